"""Where a page's time goes: each stage of the pipeline timed on real generated scans.

    python -m benchmarks.stages [--cheques 150] [--forms 15] [--seed 1357]

Generates PNG cheques and two-page form PDFs (MNIST test digits), reads them in one
process with the shipped models exactly as `docproc run --jobs 1` does, and times each
stage by wrapping the functions that do it: rasterize (decode the image or render the
PDF page), deskew and register, binarize (the page's, for deskew and registration, and each
field's: threshold and stroke growing), rule removal,
the rest of segmentation (components, merges, split candidates), normalization,
classification (digit model and single-digit check), decoding, and writing the CSV.
Prints milliseconds per page and shares, and writes them to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.results_file import machine_line, write_section

STAGES = ["rasterize", "deskew+register", "binarize", "rules", "segment", "normalize", "classify", "decode", "write"]


class StageClock:
    """Seconds spent per stage, with nested stages subtracted from the stage around them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._stack.append([0.0])
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            inner = self._stack.pop()[0]
            self.seconds[name] += spent - inner
            if self._stack:
                self._stack[-1][0] += spent

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return function(*args, **kwargs)
        return timed

    def wrap_iterator(self, name: str, function: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            iterator = function(*args, **kwargs)
            while True:
                with self.stage(name):
                    item = next(iterator, StopIteration)
                if item is StopIteration:
                    return
                yield item
        return timed


def instrument(clock: StageClock, classifier: Any) -> None:
    """Wrap the stage functions where the pipeline looks them up."""
    from docproc.glyphs import crop_layout, segment
    from docproc.layout import page_fields, register
    from docproc.run import pipeline, prepare

    prepare.iter_pages = clock.wrap_iterator("rasterize", prepare.iter_pages)
    # Finding the paper, its contrast and which way up it is count with deskew and registration.
    for name in ("find_paper", "restore_contrast", "find_orientation", "template_fields"):
        setattr(page_fields, name, clock.wrap("deskew+register", getattr(page_fields, name)))
    page_fields.find_strings = clock.wrap("deskew+register", page_fields.find_strings)
    prepare.find_glyphs = clock.wrap("segment", prepare.find_glyphs)
    segment.binarize = clock.wrap("binarize", segment.binarize)
    register.binarize = clock.wrap("binarize", register.binarize)  # the page's, for deskew and registration
    segment.grow_strokes = clock.wrap("binarize", segment.grow_strokes)
    segment.remove_rules = clock.wrap("rules", segment.remove_rules)
    crop_layout.normalize_glyph = clock.wrap("normalize", crop_layout.normalize_glyph)
    pipeline.decode_field = clock.wrap("decode", pipeline.decode_field)
    classifier.predict = clock.wrap("classify", classifier.predict)
    classifier.check.predict = clock.wrap("classify", classifier.check.predict)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cheques", type=int, default=150)
    parser.add_argument("--forms", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1357)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    from docproc.config import RunOptions
    from docproc.ingest.inputs import discover
    from docproc.layout.templates import load_template
    from docproc.output.results import write_csv
    from docproc.recognize.loading import load_classifier
    from docproc.run.native_memory import keep_freed_memory
    from docproc.run.pipeline import run_all
    from samples.pages import write_set

    keep_freed_memory()  # as the docproc command does before its model loads
    classifier = load_classifier()
    clock = StageClock()
    instrument(clock, classifier)
    table = []
    with tempfile.TemporaryDirectory(prefix="docproc-stages-") as tmp:
        out = Path(tmp)
        write_set(out, cheques=args.cheques, forms=args.forms, zips=0, seed=args.seed, formats=("png",))
        for kind, template_name in (("cheques", "cheque"), ("forms", "form")):
            clock.seconds.clear()
            files = discover([str(out / "scans" / kind)], root=out / "scans")
            template = load_template(out / "templates" / f"{template_name}.yaml")
            classifier.predict(__import__("numpy").zeros((1, 28, 28), "float32"))  # warm, outside the clock
            started = time.perf_counter()
            rows, summary = run_all(files, classifier, RunOptions(template=template))
            with clock.stage("write"):
                write_csv(rows, out / f"{kind}.csv")
            total = time.perf_counter() - started
            per_page = {name: clock.seconds.get(name, 0.0) / summary.pages * 1000 for name in STAGES}
            per_page["other"] = total / summary.pages * 1000 - sum(per_page.values())
            table.append((kind, summary.pages, total / summary.pages * 1000, per_page))
            print(f"{kind}: {summary.pages} pages, {total / summary.pages * 1000:.1f} ms per page", flush=True)
            for name, ms in per_page.items():
                print(f"  {name:16s} {ms:7.2f} ms  {ms / (total / summary.pages * 1000):6.1%}")
    if not args.no_write:
        names = [*STAGES, "other"]
        header = "| stage | " + " | ".join(f"{kind} ms/page | share" for kind, *_ in table) + " |"
        lines = [header, "|---|" + "---:|---:|" * len(table)]
        for name in names:
            cells = " | ".join(f"{per[name]:.2f} | {per[name] / total_ms:.0%}" for _, _, total_ms, per in table)
            lines.append(f"| {name} | {cells} |")
        totals = " | ".join(f"**{total_ms:.1f}** | 100%" for _, _, total_ms, _ in table)
        lines.append(f"| **total** | {totals} |")
        body = "\n".join([
            "## Where a page's time goes (`python -m benchmarks.stages`)",
            "",
            "One process (`--jobs 1`), shipped models, model loaded beforehand. "
            + ", ".join(f"{pages} {kind} pages" for kind, pages, _, _ in table)
            + f" (seed {args.seed}; cheques PNG, forms two-page PDFs at 200 dpi). Each stage's time excludes the "
            f"stages inside it; 'other' is the rest (the loop, batching, bookkeeping). "
            f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            *lines,
        ])
        print(f"written to {write_section('stages', body)}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
