"""How long the review station takes from one accepted field to the next one shown, with
a 10,000-field queue (target: at most 100 ms on the 2-core machine).

    python -m benchmarks.review [--fields 10000] [--keyed 200] [--pause-ms 0] [--no-write]

The queue: the sample cheques (MNIST test digits) are read once by ``docproc run`` with
every field sent to review; their rows are repeated over hard-linked copies of the scans
(copy-NNNN/cheque-000M.jpg) until there are ``--fields`` of them, each copy's confidences
shifted a little so that the least-confident-first order jumps from scan to scan, as a
real queue does. Every crop is cut from a real page, so the page and crop caches miss as
they would.

``docproc review`` is started as a process and headless Chromium keys fields by keyboard
(Enter on the machine's reading, a second Enter where a rule asks for one), back to back
unless ``--pause-ms`` says otherwise; the page itself times each field from the key press
to the next field's crop painted (``window.stationTimings``), and of that the wait for the
station's answer (``window.stationAnswers``). That is done twice: on the fresh queue, and after all but
``--keyed`` fields have been keyed (through the store, as other operators would have),
where finding the next free field is slowest. Medians, 95th percentiles and maxima go to
benchmarks/RESULTS.md with the machine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.results_file import machine_line, write_section
from benchmarks.station_browser import StationProcess, browser, free_port, key_value, sign_in
from docproc.review.station import open_review
from docproc.review.store import ReviewStore, default_store_path
from tests.review_job import Job, read_job

TARGET_MS = 100.0


def build_queue_job(folder: Path, fields: int) -> Job:
    """A results file of ``fields`` review rows over hard-linked copies of the sample cheques."""
    job = read_job(folder / "read")
    with job.results.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    scans = folder / "scans"
    out, copy = [], 0
    while len(out) < fields:
        copy += 1
        for row in rows:
            source = job.scans / row["file"]
            name = f"copy-{copy:04d}/{Path(row['file']).name}"
            target = scans / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(source, target)
            shift = ((copy * 7919) % 1000) / 10_000  # 0 to 0.1, the same for every run
            out.append({**row, "file": name, "confidence": f"{max(0.0, float(row['confidence']) - shift):.4f}"})
            if len(out) == fields:
                break
    results = folder / "results.csv"
    with results.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(out)
    return Job(scans, results, job.template)


def key_all_but(job: Job, left: int) -> None:
    """Key every queued field but the last ``left`` straight into the store."""
    store = open_review(job.results, job.scans, [job.template]).store
    while store.progress("earlier-operator").left > left:
        shown = store.next_for("earlier-operator")
        assert shown is not None
        item = shown.item
        store.key_field("earlier-operator", item.key, "value", item.text or "0", item.marks or item.text or "0")
    store.close()


def timed_keying(job: Job, count: int, operator: str, pause_s: float) -> tuple[list[float], list[float]]:
    """Key ``count`` fields in Chromium, ``pause_s`` after each is shown; the page's
    accept-to-next-shown times (ms), and of each the wait for the station's answer."""
    station = StationProcess(job.review_args(), free_port())
    driver = browser()
    try:
        sign_in(driver, station.url, operator)
        for _ in range(count):
            time.sleep(pause_s)
            if key_value(driver, "") == "done":
                break
        return ([float(t) for t in driver.execute_script("return window.stationTimings")],
                [float(t) for t in driver.execute_script("return window.stationAnswers")])
    finally:
        driver.quit()
        station.stop()


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(times: tuple[list[float], list[float]]) -> str:
    shown, answered = times
    return (f"median {statistics.median(shown):.1f} ms, 95th percentile {p95(shown):.1f} ms, max {max(shown):.1f} ms "
            f"over {len(shown)} fields (of which the station's answer: median {statistics.median(answered):.1f} ms, "
            f"95th percentile {p95(answered):.1f} ms)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fields", type=int, default=10_000, help="fields in the queue")
    parser.add_argument("--keyed", type=int, default=200, help="fields keyed in the browser in each part")
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="wait this long after each field is shown before keying it (0: back to back, the "
                             "hardest case: the crops cut ahead are still being cut)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="docproc-review-bench-") as tmp:
        job = build_queue_job(Path(tmp), args.fields)
        fresh = timed_keying(job, args.keyed, "first-operator", args.pause_ms / 1000)
        key_all_but(job, args.keyed + 5)
        late = timed_keying(job, args.keyed, "last-operator", args.pause_ms / 1000)
        store = ReviewStore(default_store_path(job.results))
        keyed = store.keyed()
        assert len(keyed) == len({k.key for k in keyed}), "a field was keyed twice"
        store.close()
    pace = "back to back" if not args.pause_ms else f"{args.pause_ms:g} ms after each field is shown"
    lines = [f"keyed {pace}; fresh queue of {args.fields:,} fields: {summary(fresh)}",
             f"same queue with {args.fields - args.keyed - 5:,} fields keyed before: {summary(late)}"]
    worst = max(p95(shown) for shown, _ in (fresh, late))
    verdict = (f"target at most {TARGET_MS:.0f} ms: {'met' if worst <= TARGET_MS else 'missed'} "
               f"(worst 95th percentile {worst:.1f} ms)")
    for line in [*lines, verdict]:
        print(line)
    if not args.no_write:
        body = "\n".join([
            "## Review station latency (`python -m benchmarks.review`)",
            "",
            "From the key press that accepts a field to the next field's crop painted, timed by the page in "
            "headless Chromium (Debian's chromium, driven by Selenium) against `docproc review` running as a "
            f"process; a {args.fields:,}-field queue of real crops (the sample cheques' rows repeated over "
            f"hard-linked copies of their scans). Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            *(f"- {line}" for line in lines),
            f"- {verdict}",
        ])
        print(f"written to {write_section('review-latency', body)}")


if __name__ == "__main__":
    main()
