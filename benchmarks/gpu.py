"""GPU batches: classification throughput by batch size, and what limits a run on a GPU box.

    KERAS_BACKEND=jax python -m benchmarks.gpu [--digits 200000] [--cheques 400] [--copies 4] [--batch-size 4096]

Meant for a machine with a GPU (the GPU machines here have JAX and no TensorFlow, so the
shipped model runs on Keras's JAX backend); on a CPU it runs too and says so. Three parts:

1. The digit model alone (``DigitClassifier.predict``, ``MODEL_ROWS`` digits a call) on
   MNIST test digits, after one warm-up pass (a backend compiles the shape once).
2. The run's whole classification step (digit model, single-digit check, shifted
   re-reads of unsure crops: what ``field_reading.read_needed`` does) on the crops of real
   cheque pages.
3. End to end: PNG cheques (MNIST test digits) read with the cheque template at
   ``--jobs`` 1, 2, 4, ... up to every core, batch size ``--batch-size``, in this process
   with the models loaded (worker pool start-up included). For the run at every core it
   also times the CPU stages alone (the same worker pool preparing the same pages, nothing
   classified) and the seconds this process spent classifying and decoding, which shows
   whether the GPU or the CPU stages set the pace.

Prints everything and writes it to benchmarks/RESULTS.md (section ``gpu``) with the
machine and the accelerator it ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.results_file import accelerator_line, machine_line, write_section
from benchmarks.throughput import write_cheque_batch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Stopwatch:
    """Total seconds spent inside the functions it wraps."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


def model_rate(classifier: Any, digit_count: int, repeats: int) -> float:
    """Digits per second of the digit model alone on MNIST test digits (MODEL_ROWS a call)."""
    import numpy as np

    from docproc.datasets import mnist
    from docproc.recognize.batches import MODEL_ROWS

    test = mnist.load("test")
    reps = -(-digit_count // len(test.labels))
    digits = np.tile(test.images.astype(np.float32) / 255.0, (reps, 1, 1))[:digit_count]
    classifier.predict(digits[: MODEL_ROWS * 2])  # warm-up: compile the one shape
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        classifier.predict(digits)
        best = min(best, time.perf_counter() - started)
    print(f"digit model, {MODEL_ROWS} digits a call: {len(digits) / best:12,.0f} digits/s", flush=True)
    return len(digits) / best


def cpu_stages_alone(files: list, options: Any, jobs: int) -> tuple[float, int, list]:  # type: ignore[type-arg]
    """Seconds for ``jobs`` worker processes to prepare every page with nothing classified
    (pool start-up included, as in a run); the page count and the prepared fields."""
    from docproc.run.workers import WorkerFeed, start_pool

    started = time.perf_counter()
    pool = start_pool(jobs)
    pages, fields = 0, []
    try:
        feed = WorkerFeed(files, jobs, options, pool)
        feed.start()
        for part in feed:
            for page in part.pages:
                pages += 1
                fields.extend(page.fields)
    finally:
        pool.stop()  # the feed has let the workers go once iterated; this is for a feed that failed sooner
        pool.join()
    return time.perf_counter() - started, pages, fields


def step_rate(classifier: Any, fields: list, repeats: int) -> tuple[float, float]:  # type: ignore[type-arg]
    """The run's classification step on real crops: (crops/s, share of the crops read)."""
    import numpy as np

    from docproc.recognize.field_reading import piece_owners, read_needed

    crops = np.concatenate([f.crops for f in fields])
    owners = piece_owners([f.layout for f in fields])
    readings = read_needed(classifier, crops, owners)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        read_needed(classifier, crops, owners)
        best = min(best, time.perf_counter() - started)
    read_share = float(np.mean(~np.isnan(readings.probabilities[:, 0])))
    print(f"classification step: {len(crops) / best:12,.0f} crops/s ({read_share:.0%} of crops read)", flush=True)
    return len(crops) / best, read_share


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=4096, help="batch size of the end-to-end runs")
    parser.add_argument("--cheques", type=int, default=400)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--seed", type=int, default=6060)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    import keras

    from docproc.config import RunOptions, default_jobs
    from docproc.layout.templates import load_template
    from docproc.recognize.batches import MODEL_ROWS
    from docproc.recognize.loading import load_classifier
    from docproc.run import pipeline
    from docproc.run.native_memory import keep_freed_memory
    from docproc.run.pipeline import run_all

    accelerator = accelerator_line()
    print(f"Keras backend {keras.backend.backend()}; {accelerator}", flush=True)
    keep_freed_memory()  # as the docproc command does before its model loads
    classifier = load_classifier(batch_size=args.batch_size, runtime="keras")  # the GPU path is Keras (docproc[gpu])
    model = model_rate(classifier, args.digits, args.repeats)

    cores = default_jobs()
    job_counts = sorted({1, cores} | {j for j in (2, 4, 8, 16, 32, 64) if j < cores})
    runs: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="docproc-gpu-") as tmp:
        files, template_path = write_cheque_batch(Path(tmp), args.cheques, args.copies, args.seed)
        options = RunOptions(template=load_template(template_path))

        cpu_seconds, cpu_pages, fields = cpu_stages_alone(files, options, cores)
        cpu_rate = cpu_pages / cpu_seconds
        print(f"CPU stages alone, {cores} workers: {cpu_rate:.1f} pages/s", flush=True)
        step, read_share = step_rate(classifier, fields, args.repeats)
        crops_per_page = sum(len(f.crops) for f in fields) / cpu_pages

        classify_clock, decode_clock = Stopwatch(), Stopwatch()
        read_needed, decode_field = pipeline.read_needed, pipeline.decode_field
        for jobs in job_counts:
            best, best_clocks = float("inf"), (0.0, 0.0)
            for _ in range(2 if jobs == cores else 1):
                classify_clock.seconds = decode_clock.seconds = 0.0
                pipeline.read_needed = classify_clock.wrap(read_needed)
                pipeline.decode_field = decode_clock.wrap(decode_field)
                try:
                    started = time.perf_counter()
                    rows, summary = run_all(files, classifier, options, jobs=jobs)
                    seconds = time.perf_counter() - started
                finally:
                    pipeline.read_needed, pipeline.decode_field = read_needed, decode_field
                if seconds < best:
                    best, best_clocks = seconds, (classify_clock.seconds, decode_clock.seconds)
            runs.append((jobs, summary.pages / best, best_clocks[0] / best, best_clocks[1] / best))
            print(f"end to end, --jobs {jobs:2d}: {summary.pages / best:7.1f} pages/s; classifying "
                  f"{best_clocks[0] / best:.1%} and decoding {best_clocks[1] / best:.1%} of the wall time",
                  flush=True)

    full = runs[-1]
    limited_by_cpu = full[1] >= 0.85 * cpu_rate and full[2] < 0.5
    verdict = (
        f"At {cores} workers the run reads {full[1]:.1f} pages/s against {cpu_rate:.1f} for the CPU stages "
        f"alone, and classification takes {full[2]:.1%} of its wall time: "
        + ("the CPU stages set the pace, not the GPU." if limited_by_cpu else
           "the CPU stages alone would be faster, so something else (the classifier, or this process's "
           "decoding) holds the run back.")
    )
    print(verdict)
    if args.no_write:
        return
    body = "\n".join([
        "## GPU batches (`python -m benchmarks.gpu`)",
        "",
        f"Keras backend `{keras.backend.backend()}`. Measured {dt.date.today().isoformat()} on: {machine_line()}; "
        f"{accelerator}.",
        "",
        f"Classification: the digit model alone on {args.digits:,} MNIST test digits, and the run's whole "
        f"classification step (digit model, single-digit check, re-reads of unsure crops) on the "
        f"{sum(len(f.crops) for f in fields):,} crops of the end-to-end pages below ({crops_per_page:.1f} per page; "
        f"the step reads only the cut pieces it needs: share read in the last column). Every model call is "
        f"{MODEL_ROWS} crops (docproc/recognize/batches.py). Best of {args.repeats}.",
        "",
        "| digits per model call | digit model, digits/s | classification step, crops/s | crops read |",
        "|---:|---:|---:|---:|",
        f"| {MODEL_ROWS} | {model:,.0f} | {step:,.0f} | {read_share:.0%} |",
        "",
        f"End to end: {args.cheques} PNG cheques (seed {args.seed}) laid out {args.copies} times "
        f"({len(files)} files), cheque template, batch size {args.batch_size}, models loaded in this process "
        f"(worker pool start-up included; best of two at {cores} workers, one run otherwise). "
        f"Classifying and decoding: shares of the run's wall time this process spent in them.",
        "",
        "| --jobs | pages/s | classifying | decoding |",
        "|---:|---:|---:|---:|",
        *(f"| {jobs} | {rate:.1f} | {c:.1%} | {d:.1%} |" for jobs, rate, c, d in runs),
        f"| CPU stages alone, {cores} workers | {cpu_rate:.1f} | - | - |",
        "",
        verdict,
    ])
    print(f"written to {write_section('gpu', body)}")


if __name__ == "__main__":
    main()
