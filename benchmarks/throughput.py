"""docproc beside Tesseract on the same pages, in one run: pages/s, digits/s, peak memory.

    python -m benchmarks.throughput [--cheques 300] [--copies 3] [--seed 6060] [--tesseract-fields 120]

Generates PNG cheques (MNIST test digits), lays each out ``--copies`` times under other
names (a batch long enough for the steady rate, without generating thousands of pages),
and reads them with docproc and the cheque template at ``--jobs 1`` and at ``--jobs`` =
every core, with each ``--reader`` (segment, sequence, both; the segmentation alone when
the sequence reader is not shipped), in this process with the models already loaded (the
steady rate a long batch sees; a worker pool's start-up is included). The sequence
reader's own cost per field on this CPU is timed apart, on the fields' line images.
Peak memory is the largest total resident memory of a `docproc run` command and all its
worker processes, sampled every 20 ms. Tesseract 5 (digits whitelist, one
text line, one process per field, as a user would call it) reads the very boxes docproc
reported, one at a time and as many at once as there are cores, on the first
``--tesseract-fields`` fields; its pages per second follow from its time per field.
Prints the ratios and writes everything to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.fields import crops_for
from benchmarks.results_file import machine_line, write_section


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total / 2**20


def peak_memory_of(command: list[str]) -> float:
    """Peak total resident memory (MiB) of a command and its children."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_rss_mib(process.pid))
        time.sleep(0.02)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return peak


def tesseract_seconds(crops: list, workers: int) -> float:  # type: ignore[type-arg]
    """Seconds for Tesseract to read every crop, ``workers`` processes at a time."""
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for index, crop in enumerate(crops):
            paths.append(Path(tmp) / f"{index}.png")
            cv2.imwrite(str(paths[-1]), crop)

        def read(path: Path) -> str:
            return subprocess.run(["tesseract", str(path), "stdout", "--psm", "7", "-c",
                                   "tessedit_char_whitelist=0123456789"], capture_output=True, text=True,
                                  timeout=60, check=False).stdout

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(read, paths))
        return time.perf_counter() - started


def write_cheque_batch(out: Path, cheques: int, copies: int, seed: int) -> tuple[list, Path]:  # type: ignore[type-arg]
    """Generate ``cheques`` PNG cheques (MNIST test digits) under ``out`` and lay each out
    ``copies`` times in ``out/batch``: the files to read, and the cheque template's path."""
    from docproc.ingest.inputs import discover
    from samples.pages import write_set

    write_set(out, cheques=cheques, forms=0, zips=0, seed=seed, formats=("png",))
    batch = out / "batch"
    batch.mkdir()
    for copy in range(copies):
        for path in sorted((out / "scans" / "cheques").glob("*.png")):
            shutil.copy(path, batch / f"{copy}-{path.name}")
    return discover([str(batch)], root=out), out / "templates" / "cheque.yaml"


def sequence_reader_rate(reader: object, crops: list, repeats: int = 3) -> float:  # type: ignore[type-arg]
    """Fields per second that the sequence reader reads (its model alone, in its width
    buckets), on the line images of ``crops``: the best of ``repeats`` passes."""
    from docproc.glyphs.line_image import line_image

    lines = [line_image(crop) for crop in crops]
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        reader.read(lines)  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - started)
    return len(lines) / best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cheques", type=int, default=300)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--seed", type=int, default=6060)
    parser.add_argument("--tesseract-fields", type=int, default=120)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    from docproc.config import READER, READERS, RUNTIME, RunOptions, default_jobs
    from docproc.layout.templates import load_template
    from docproc.recognize.loading import load_classifier, load_sequence_reader
    from docproc.recognize.model_files import SHIPPED_SEQUENCE
    from docproc.recognize.sequence_reader import SEQUENCE_ROWS
    from docproc.run.native_memory import keep_freed_memory
    from docproc.run.pipeline import run_all

    cores = default_jobs()
    docproc = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
    keep_freed_memory()  # as the docproc command does before its model loads
    classifier = load_classifier(sequence=SHIPPED_SEQUENCE.is_file())
    readers = READERS if classifier.sequence is not None else ("segment",)
    results = []
    per_reader: dict[str, float] = {}
    sequence_rate = keras_sequence_rate = None
    with tempfile.TemporaryDirectory(prefix="docproc-throughput-") as tmp:
        out = Path(tmp)
        files, template_path = write_cheque_batch(out, args.cheques, args.copies, args.seed)
        batch = out / "batch"
        rows = []
        for reader in readers:
            options = RunOptions(template=load_template(template_path), reader=reader)
            for jobs in sorted({1, cores}):
                best = float("inf")
                for _ in range(2):
                    started = time.perf_counter()
                    read_rows, summary = run_all(files, classifier, options, jobs=jobs)
                    best = min(best, time.perf_counter() - started)
                if reader == "segment":
                    rows = read_rows  # the boxes Tesseract reads
                digits = sum(len(r.text) for r in read_rows)
                peak = peak_memory_of([docproc, "run", str(batch), "--template", str(template_path), "--reader", reader,
                                       "-o", str(out / f"{reader}-jobs-{jobs}.csv"), "-q", "--jobs", str(jobs)])
                name = f"docproc --reader {reader} --jobs {jobs}"
                results.append((name, summary.pages / best, digits / best, peak))
                per_reader[reader] = max(per_reader.get(reader, 0.0), summary.pages / best)
                print(f"{name}: {summary.pages / best:.1f} pages/s, {digits / best:.0f} digits/s, "
                      f"peak {peak:.0f} MiB", flush=True)
        if classifier.sequence is not None:
            line_crops = crops_for(rows[:600], out)
            sequence_rate = sequence_reader_rate(classifier.sequence, line_crops)
            print(f"sequence reader alone: {sequence_rate:.0f} fields/s ({1000 / sequence_rate:.2f} ms a field)",
                  flush=True)
            if RUNTIME != "keras" and importlib.util.find_spec("keras") is not None:
                keras_sequence_rate = sequence_reader_rate(load_sequence_reader(runtime="keras"), line_crops)
                print(f"sequence reader alone, --runtime keras: {keras_sequence_rate:.0f} fields/s", flush=True)
        tesseract = shutil.which("tesseract")
        if tesseract:
            sample = rows[: args.tesseract_fields]
            crops = crops_for(sample, out)
            fields_per_page = len(rows) / len(files)
            digits_per_field = sum(len(r.text) for r in rows) / len(rows)
            for workers in sorted({1, cores}):
                seconds = tesseract_seconds(crops, workers)
                per_second = len(crops) / seconds
                results.append((f"Tesseract, {workers} at a time", per_second / fields_per_page,
                                per_second * digits_per_field, None))
                print(f"Tesseract, {workers} at a time: {per_second / fields_per_page:.2f} pages/s", flush=True)
    base = {name: rate for name, rate, _, _ in results}
    best_docproc = max(rate for name, rate, _, _ in results if name.startswith("docproc"))
    ratios = [f"{best_docproc / rate:.1f}x {name}" for name, rate in base.items() if name.startswith("Tesseract")]
    verdict = (f"docproc at its best ({best_docproc:.1f} pages/s) reads " + " and ".join(ratios) + "'s pages per second"
               if ratios else "Tesseract not installed: no ratio")
    print(verdict)
    speeds = [f"`--reader {reader}` reads {rate / per_reader['segment']:.0%} of `--reader segment`'s pages per second "
              f"at its best ({rate:.1f} against {per_reader['segment']:.1f})"
              for reader, rate in per_reader.items() if reader != "segment"]
    if sequence_rate is not None:
        keras_rate = ("" if keras_sequence_rate is None else
                      f"; the Keras model on TensorFlow, `--runtime keras`, {keras_sequence_rate:.0f}")
        speeds.append(f"the sequence reader's model alone reads {sequence_rate:.0f} fields per second on this CPU "
                      f"({1000 / sequence_rate:.2f} ms a field: the fields' line images, {SEQUENCE_ROWS} "
                      f"to a batch of one width bucket{keras_rate})")
    for line in speeds:
        print(line)
    if not args.no_write:
        lines = ["| reader | pages/s | digits/s | peak memory |", "|---|---:|---:|---:|"]
        for name, rate, digits, peak in results:
            lines.append(f"| {name} | {rate:.1f} | {digits:.0f} | {'-' if peak is None else f'{peak:.0f} MiB'} |")
        body = "\n".join([
            "## docproc beside Tesseract, end to end (`python -m benchmarks.throughput`)",
            "",
            f"{args.cheques} PNG cheques (seed {args.seed}, two fields each), each laid out {args.copies} times "
            f"({len(files)} files), with the cheque template, read with `--runtime {RUNTIME}` (the default). docproc's rate "
            f"is the best of two runs in one process with the models loaded (worker pool start-up included); peak "
            f"memory is the whole `docproc run` command with its workers. Tesseract 5 (digits whitelist, `--psm 7`, "
            f"one process per field) on the same boxes, first {args.tesseract_fields} fields. "
            f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            *lines,
            "",
            f"{verdict}.",
            *([""] + [f"- {line[0].upper()}{line[1:]}." for line in speeds] if speeds else []),
            *(["", f"`{READER}` is the default reader."] if len(readers) > 1 else []),
        ])
        print(f"written to {write_section('throughput', body)}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
