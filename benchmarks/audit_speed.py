"""How long `docproc audit` takes to build a report for many fields (target: 10,000 in
under 30 s on the 2-core machine).

    python -m benchmarks.audit_speed [--fields 10000] [--repeats 3]

Writes a seeded results CSV and truth CSV of the given size (digit strings of 3-10
digits, about 5% of fields misread by a substituted, missed or extra digit, 1% missing,
a few unreadable pages), then times ``audit_results`` end to end (read, check, join,
every figure, plots, metrics.json, report.html) without crops, and reports the best of
``--repeats`` runs in benchmarks/RESULTS.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results_file import machine_line, write_section
from docproc.audit import audit_results
from docproc.output.results import COLUMNS


def write_case(folder: Path, count: int, seed: int) -> tuple[Path, Path]:
    """A results CSV and a truth CSV of ``count`` fields, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    results, truth = folder / "results.csv", folder / "truth.csv"
    with results.open("w", newline="") as r_handle, truth.open("w", newline="") as t_handle:
        r_out, t_out = csv.writer(r_handle), csv.writer(t_handle)
        r_out.writerow(COLUMNS)
        t_out.writerow(["file", "page", "field", "text"])
        for index in range(count):
            name, page, field = f"scans/doc-{index // 4:05d}.pdf", 1 + index % 4 // 2, f"f{index % 2}"
            text = "".join(map(str, rng.integers(0, 10, size=int(rng.integers(3, 11)))))
            t_out.writerow([name, page, field, text])
            roll = rng.random()
            if roll < 0.01:
                continue  # missing from the results
            read, confidence = text, float(rng.beta(20, 1))
            if roll < 0.06:
                at = int(rng.integers(0, len(text)))
                kind = rng.integers(0, 3)
                read = (text[:at] + str(rng.integers(0, 10)) + text[at + 1 :] if kind == 0 else
                        text[:at] + text[at + 1 :] if kind == 1 else text[:at] + str(rng.integers(0, 10)) + text[at:])
                confidence = float(rng.beta(4, 2))
            digits = " ".join(f"{c:.4f}" for c in rng.uniform(confidence, 1.0, size=len(read)))
            r_out.writerow([name, page, "form", field, read, f"{confidence:.4f}", digits,
                            "ok" if confidence >= 0.9 else "review", "", 10, 10, 200, 40])
        r_out.writerow(["scans/broken.pdf", 1, "form", "", "", "0.0000", "", "error", "cannot read", 0, 0, 0, 0])
    return results, truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fields", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="docproc-audit-bench-") as tmp:
        folder = Path(tmp)
        results, truth = write_case(folder, args.fields, args.seed)
        times = []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            _, figures = audit_results([results], truth, folder / f"report-{repeat}")
            times.append(time.perf_counter() - started)
    best = min(times)
    overall = figures["overall"]
    line = (f"{args.fields} fields ({overall['right']} right, {overall['wrong']} wrong, {overall['missing']} missing): "
            f"report built in {best:.2f} s (best of {args.repeats}; all: {', '.join(f'{t:.2f}' for t in times)})")
    print(line)
    if not args.no_write:
        body = "\n".join([
            "## Audit report speed (`python -m benchmarks.audit_speed`)",
            "",
            f"`docproc audit` end to end (read, check, join, figures, plots, metrics.json, report.html; no crops) "
            f"on a seeded synthetic case. Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            f"- {line}",
        ])
        print(f"written to {write_section('audit-speed', body)}")


if __name__ == "__main__":
    main()
