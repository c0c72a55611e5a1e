"""How many normalized digits per second the shipped model classifies, by batch size.

    python -m benchmarks.classify_speed [--model PATH] [--digits 20000] [--repeats 3]

Times ``DigitClassifier.predict`` on MNIST test digits (already 28x28, so this measures the
model alone, not segmentation), after one warm-up pass per batch size; reports the best of
``--repeats`` runs and writes the table to benchmarks/RESULTS.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.results_file import machine_line, write_section  # noqa: E402
from docproc.datasets import mnist  # noqa: E402
from docproc.recognize.classifier import DigitClassifier  # noqa: E402
from docproc.recognize.loading import load_classifier  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--digits", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="64,256,1024,4096")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    import keras

    classifier = load_classifier(args.model)
    test = mnist.load("test")
    reps = -(-args.digits // len(test.labels))
    digits = np.tile(test.images.astype(np.float32) / 255.0, (reps, 1, 1))[: args.digits]
    rows = []
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        runner = DigitClassifier(classifier.model, classifier.path, batch_size=batch_size)
        runner.predict(digits[: batch_size * 2])  # warm-up: graph tracing and allocator
        best = min(_timed(runner, digits) for _ in range(args.repeats))
        rate = len(digits) / best
        rows.append((batch_size, rate, best))
        print(f"batch {batch_size:5d}: {rate:10,.0f} digits/s  ({len(digits)} digits in {best:.2f} s)", flush=True)

    body = "\n".join(
        [
            "## Classification throughput (`python -m benchmarks.classify_speed`)",
            "",
            f"Model `{classifier.path.name}` ({classifier.parameter_count():,} parameters), Keras backend "
            f"`{keras.backend.backend()}`, {len(digits):,} MNIST test digits, best of {args.repeats}. "
            f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            "| batch size | digits/s | seconds |",
            "|---:|---:|---:|",
            *(f"| {b} | {r:,.0f} | {s:.2f} |" for b, r, s in rows),
        ]
    )
    if not args.no_write:
        print(f"written to {write_section('classify-speed', body)}")


def _timed(runner: DigitClassifier, digits: np.ndarray) -> float:
    start = time.perf_counter()
    runner.predict(digits)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
