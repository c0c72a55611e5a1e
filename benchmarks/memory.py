"""Peak memory of `docproc run` on a short and a long multi-page PDF: pages are streamed,
so memory must stay flat however many pages a file has.

    python -m benchmarks.memory [--pages 20 100 300]

Writes form PDFs of the given page counts (generated form pages with MNIST test
digits, ten distinct pages cycled), runs the real command on each in a child process
(pages rendered by poppler, then again with --direct-pdf-scans),
and reports the peak of its resident memory, with its worker processes (a long PDF is
shared among them in parts), sampled every 20 ms, and its time in
benchmarks/RESULTS.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.results_file import machine_line, write_section
from benchmarks.throughput import peak_memory_of
from samples.layouts import DigitSource, form_layout, render_page

DISTINCT_PAGES = 10


def write_long_pdf(path: Path, pages: int, seed: int) -> None:
    """A form PDF of ``pages`` pages (ten distinct generated pages, cycled)."""
    rng = np.random.default_rng(seed)
    layout, digits = form_layout(), DigitSource(rng)
    distinct = [Image.fromarray(render_page(layout, rng, digits)[0][..., ::-1]).convert("L") for _ in range(DISTINCT_PAGES)]
    cycled = list(itertools.islice(itertools.cycle(distinct), pages))
    cycled[0].save(path, save_all=True, append_images=cycled[1:], resolution=float(layout.dpi))


def peak_of_run(pdf: Path, template: Path, out: Path, options: tuple[str, ...] = ()) -> tuple[float, float]:
    """Peak resident memory (MiB) of one `docproc run` and all its worker processes
    together, and its seconds."""
    docproc = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
    started = time.perf_counter()
    peak = peak_memory_of([docproc, "run", str(pdf), "--template", str(template), "-o", str(out), "-q", *options])
    return peak, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, nargs="+", default=[20, 100, 300],
                        help="page counts to measure, shortest first; the verdict compares the last two")
    parser.add_argument("--seed", type=int, default=31337)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    figures = []
    with tempfile.TemporaryDirectory(prefix="docproc-memory-") as tmp:
        folder = Path(tmp)
        template = folder / "form.yaml"
        template.write_text(form_layout().template_yaml())
        for pages in args.pages:
            pdf = folder / f"form-{pages}.pdf"
            started = time.perf_counter()
            write_long_pdf(pdf, pages, args.seed)
            print(f"wrote {pages}-page PDF ({pdf.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - started:.0f} s",
                  flush=True)
            peak, seconds = peak_of_run(pdf, template, folder / f"out-{pages}.csv")
            direct_peak, direct_seconds = peak_of_run(pdf, template, folder / f"direct-{pages}.csv",
                                                      ("--direct-pdf-scans",))
            figures.append((pages, pdf.stat().st_size / 2**20, peak, seconds, direct_peak, direct_seconds))
            print(f"{pages} pages: peak {peak:.0f} MiB, {seconds:.1f} s; with --direct-pdf-scans "
                  f"{direct_peak:.0f} MiB, {direct_seconds:.1f} s", flush=True)
    # A short PDF is read before the workers all have a part of it: from the second size
    # on, every worker is at work, and that is where memory must stay flat.
    (short_pages, _, short_peak, _, short_direct, _), (long_pages, _, long_peak, _, long_direct, _) = figures[-2:]
    verdict = (f"{long_pages} pages peak at {long_peak:.0f} MiB against {short_peak:.0f} MiB for {short_pages} "
               f"({long_peak - short_peak:+.0f} MiB for {long_pages - short_pages} more pages); with "
               f"`--direct-pdf-scans`, {long_direct:.0f} MiB against {short_direct:.0f} MiB "
               f"({long_direct - short_direct:+.0f} MiB)")
    print(verdict)
    if not args.no_write:
        rows = [f"| {p} | {size:.1f} MiB | {peak:.0f} MiB | {s:.1f} s | {dpeak:.0f} MiB | {ds:.1f} s |"
                for p, size, peak, s, dpeak, ds in figures]
        body = "\n".join([
            "## Memory over a long PDF (`python -m benchmarks.memory`)",
            "",
            f"`docproc run` on one form PDF (letter pages rendered at 200 dpi, four fields each), default `--jobs` "
            f"(every core), peak resident memory of the command and its worker processes together; then the same "
            f"with `--direct-pdf-scans` (the pages straight from their JPEGs). Measured {dt.date.today().isoformat()} "
            f"on: {machine_line()}.",
            "",
            "| pages | PDF size | peak memory | time | peak, direct | time, direct |",
            "|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"{verdict}.",
        ])
        print(f"written to {write_section('memory', body)}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
