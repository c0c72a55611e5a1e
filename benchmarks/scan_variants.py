"""Fields right and "ok but wrong" on held-out cheques delivered the way scanners deliver them.

    python -m benchmarks.scan_variants [--cheques 150] [--seed 5150]

Generates held-out cheques (MNIST test digits, a seed the samples, tests and the field
benchmark do not use) and writes each as every variant of samples/scan_variants.py (a
dark scanner bed, tilts beyond a feeder's, upside down, bitonal, ...) as grey PNG, or
CCITT G4 TIFF (or a PDF of one G4 image) for the bitonal ones, and the same cheques
three to a flatbed scan, read with ``--split-documents``. Each variant's set is read with
the cheque template, and again with the blank cheque as the template's reference form; per
variant it prints the share of fields read right and of fields marked ``ok`` with a
wrong text (the errors nobody looks at), with their 95% intervals, into
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.fields import wilson_interval  # noqa: E402
from benchmarks.results_file import machine_line, write_section  # noqa: E402
from docproc.config import RunOptions  # noqa: E402
from docproc.ingest.inputs import discover  # noqa: E402
from docproc.layout.templates import load_template  # noqa: E402
from docproc.recognize.classifier import DigitClassifier  # noqa: E402
from docproc.recognize.loading import load_classifier  # noqa: E402
from docproc.run.pipeline import run_all  # noqa: E402
from samples.layouts import DigitSource, blank_form, cheque_layout, render_page  # noqa: E402
from samples.scan_variants import IN_A_PDF, VARIANTS, several_on_a_bed  # noqa: E402

# Cheques laid on one flatbed scan in the split-documents set.
PER_FLATBED = 3
FLATBEDS = "flatbeds"


def write_variants(out: Path, cheques: int, seed: int) -> dict[tuple[str, str], str]:
    """Each variant's scans under ``out/<n>/``, the cheques ``PER_FLATBED`` to a scan under
    ``out/flatbeds/``, the template as ``out/cheque.yaml`` and, with the blank cheque as
    its reference form, as ``out/cheque-reference.yaml``; returns the truth
    {(variant folder/file, field): text}, a flatbed's fields named ``<part>/<field>``."""
    rng = np.random.default_rng(seed)
    digits = DigitSource(rng)
    # Each variant draws from a stream of its own, so the cheques, and every variant's
    # scans of them, stay the same when a variant is added.
    variant_rngs = [np.random.default_rng([seed, 3, index]) for index in range(len(VARIANTS))]
    layout = cheque_layout()
    out.mkdir(parents=True, exist_ok=True)
    (out / "cheque.yaml").write_text(layout.template_yaml())
    cv2.imwrite(str(out / "blank-cheque.png"), blank_form(layout, np.random.default_rng(seed + 2)))
    (out / "cheque-reference.yaml").write_text(layout.template_yaml() + "reference: blank-cheque.png\n")
    truth: dict[tuple[str, str], str] = {}
    written: list[tuple[np.ndarray, dict[str, str]]] = []
    for number in range(1, cheques + 1):
        page, fields = render_page(layout, rng, digits)
        grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
        written.append((grey, fields))
        for index, (variant_name, variant) in enumerate(VARIANTS.items()):
            folder = out / str(index)
            folder.mkdir(parents=True, exist_ok=True)
            scan = variant(grey, variant_rngs[index])
            if variant_name.endswith(IN_A_PDF):
                name = f"cheque-{number:04d}.pdf"
                Image.fromarray(scan).save(folder / name, resolution=layout.dpi)
            elif scan.dtype == bool:  # bitonal: stored as an archive stores it
                name = f"cheque-{number:04d}.tif"
                Image.fromarray(scan).save(folder / name, compression="group4", dpi=(layout.dpi, layout.dpi))
            else:
                name = f"cheque-{number:04d}.png"
                cv2.imwrite(str(folder / name), scan)
            truth.update(((f"{index}/{name}", field), text) for field, text in fields.items())
    # Its own random stream, so the variants above keep theirs.
    flatbed_rng = np.random.default_rng(seed + 1)
    (out / FLATBEDS).mkdir(exist_ok=True)
    for start in range(0, len(written), PER_FLATBED):
        group = written[start : start + PER_FLATBED]
        name = f"flatbed-{start // PER_FLATBED + 1:04d}.png"
        cv2.imwrite(str(out / FLATBEDS / name), several_on_a_bed([grey for grey, _ in group], flatbed_rng))
        truth.update(((f"{FLATBEDS}/{name}", f"{part}/{field}"), text)
                     for part, (_, fields) in enumerate(group, 1) for field, text in fields.items())
    return truth


def interval(count: int, total: int) -> str:
    """A share with its 95% Wilson interval."""
    low, high = wilson_interval(count, total)
    return f"{count / total:.1%} ({low:.1%}-{high:.1%})"


def read_set(out: Path, folder: str, options: RunOptions, truth: dict[tuple[str, str], str],
             classifier: DigitClassifier) -> str:
    """One set's cells of the table: fields right, ok but wrong, pages per second."""
    files = discover([str(out / folder)], root=out)
    started = time.perf_counter()
    rows, summary = run_all(files, classifier, options)
    seconds = time.perf_counter() - started
    got = {(r.file, f"{r.part}/{r.field}" if folder == FLATBEDS else r.field): r for r in rows}
    keys = [k for k in truth if k[0].startswith(f"{folder}/")]
    right = sum(1 for k in keys if k in got and got[k].text == truth[k])
    ok_wrong = sum(1 for k in keys if k in got and got[k].status == "ok" and got[k].text != truth[k])
    return f"{len(keys)} | {interval(right, len(keys))} | {interval(ok_wrong, len(keys))} | {summary.pages / seconds:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cheques", type=int, default=150)
    parser.add_argument("--seed", type=int, default=5150)
    parser.add_argument("--out", type=Path, default=None, help="keep the generated scans here")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="docproc-scan-variants-"))
    truth = write_variants(out, args.cheques, args.seed)
    plain, with_reference = load_template(out / "cheque.yaml"), load_template(out / "cheque-reference.yaml")
    classifier = load_classifier()
    table = ["| variant | fields | fields right | ok but wrong | pages/s | with the reference form: fields | fields right "
             "| ok but wrong | pages/s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    sets = [(name, str(index), False) for index, name in enumerate(VARIANTS)]
    sets.append((f"{PER_FLATBED} cheques on a flatbed, each tilted up to 3 degrees, --split-documents", FLATBEDS, True))
    for name, folder, split in sets:
        cells = [read_set(out, folder, RunOptions(template=template, split_documents=split), truth, classifier)
                 for template in (plain, with_reference)]
        line = f"| {name} | {' | '.join(cells)} |"
        print(line, flush=True)
        table.append(line)
    section = [
        "## Scan variants (`python -m benchmarks.scan_variants`)",
        "",
        f"{args.cheques} held-out cheques (MNIST test digits, seed {args.seed}), each written as every variant of "
        "`samples/scan_variants.py` (grey PNG; the bitonal ones CCITT G4 TIFF, or a PDF of one G4 image), and the same cheques "
        f"{PER_FLATBED} to a flatbed scan, read with the cheque template, and again with the template naming the "
        "blank cheque as its reference form (docs/templates.md). pages/s: scans per second. "
        "\"ok but wrong\": marked `ok` with a wrong text. 95% Wilson intervals. "
        f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
        "",
        *table,
    ]
    print("\n".join(section))
    if not args.no_write:
        print(f"written to {write_section('scan-variants', chr(10).join(section))}")


if __name__ == "__main__":
    main()
