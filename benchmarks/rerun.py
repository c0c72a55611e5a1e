"""How long a cron rerun takes when (almost) nothing changed: the run ledger's target.

    python -m benchmarks.rerun [--files 1000]

Writes ``--files`` PNG cheques (MNIST test digits), reads them once with the real
command, then times reruns of the same command in fresh processes: with nothing
changed (three times), and after 10 new files arrive and 10 are touched (same bytes,
new time). Each figure is the whole command, Python start-up included. Writes the
figures to benchmarks/RESULTS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.results_file import machine_line, write_section
from samples.pages import write_set


def timed_run(command: list[str], summary: Path) -> tuple[float, dict[str, object]]:
    """Seconds of one `docproc run` in a fresh process, and its JSON summary."""
    started = time.perf_counter()
    result = subprocess.run(command + ["--summary-json", str(summary)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"docproc run failed ({result.returncode}):\n{result.stderr}")
    return seconds, json.loads(summary.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=4711)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    docproc = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
    with tempfile.TemporaryDirectory(prefix="docproc-rerun-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        write_set(folder / "set", cheques=args.files + 10, forms=0, zips=0, seed=args.seed, formats=("png",))
        made = sorted((folder / "set" / "scans" / "cheques").glob("*.png"))
        scans = folder / "scans"
        scans.mkdir()
        for path in made[:args.files]:
            path.rename(scans / path.name)
        print(f"wrote {args.files} cheques in {time.perf_counter() - started:.0f} s", flush=True)
        command = [docproc, "run", str(scans), "--template", str(folder / "set" / "templates" / "cheque.yaml"),
                   "-o", str(folder / "results.csv"), "-q"]
        summary = folder / "summary.json"
        first, counts = timed_run(command, summary)
        print(f"first run: {first:.1f} s, {counts['files_read']} files read", flush=True)
        unchanged = []
        for _ in range(3):
            seconds, counts = timed_run(command, summary)
            assert counts["files_read"] == 0, counts
            unchanged.append(seconds)
            print(f"rerun, nothing changed: {seconds:.2f} s", flush=True)
        for path in made[args.files:]:
            path.rename(scans / path.name)
        now = time.time()
        for path in sorted(scans.glob("*.png"))[:10]:
            os.utime(path, (now, now))
        grown, counts = timed_run(command, summary)
        assert counts["files_read"] == 10, counts
        print(f"rerun, 10 new and 10 touched: {grown:.2f} s ({counts['files_read']} read)", flush=True)
    verdict = (f"a rerun over {args.files} unchanged files takes {min(unchanged):.2f} s at best, "
               f"{max(unchanged):.2f} s at worst (target: under 5 s)")
    print(verdict)
    if not args.no_write:
        body = "\n".join([
            "## Reruns over unchanged files (`python -m benchmarks.rerun`)",
            "",
            f"`docproc run` over a folder of {args.files} PNG cheques with the cheque template, run again with the "
            f"run ledger from the first run; each time is the whole command in a fresh process, start-up included. "
            f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            "| run | files read | time |",
            "|---|---:|---:|",
            f"| first run | {args.files} | {first:.1f} s |",
            *[f"| rerun {i + 1}, nothing changed | 0 | {s:.2f} s |" for i, s in enumerate(unchanged)],
            f"| rerun, 10 new files and 10 touched (same bytes) | 10 | {grown:.2f} s |",
            "",
            f"{verdict[0].upper()}{verdict[1:]}.",
        ])
        print(f"written to {write_section('rerun', body)}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
