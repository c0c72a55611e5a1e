"""How many normalized digits per second the shipped model classifies.

    python -m benchmarks.classify_speed [--model PATH] [--digits 20000] [--repeats 3]

Times ``DigitClassifier.predict`` on MNIST test digits (already 28x28, so this measures the
model alone, not segmentation; every call is ``MODEL_ROWS`` digits, whatever the batch
size, see docproc/recognize/batches.py), after one warm-up pass; reports the best of
``--repeats`` runs and writes it to benchmarks/RESULTS.md with the machine it ran on.
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
from docproc.recognize.batches import MODEL_ROWS  # noqa: E402
from docproc.recognize.classifier import DigitClassifier  # noqa: E402
from docproc.recognize.loading import load_classifier  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--digits", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    import keras

    classifier = load_classifier(args.model, sequence=False)
    test = mnist.load("test")
    reps = -(-args.digits // len(test.labels))
    digits = np.tile(test.images.astype(np.float32) / 255.0, (reps, 1, 1))[: args.digits]
    runner = DigitClassifier(classifier.model, classifier.path)
    runner.predict(digits[: MODEL_ROWS * 2])  # warm-up: graph tracing and allocator
    best = min(_timed(runner, digits) for _ in range(args.repeats))
    rate = len(digits) / best
    print(f"{rate:10,.0f} digits/s  ({len(digits)} digits in {best:.2f} s, {MODEL_ROWS} a call)", flush=True)

    body = "\n".join(
        [
            "## Classification throughput (`python -m benchmarks.classify_speed`)",
            "",
            f"Model `{classifier.path.name}` ({classifier.parameter_count():,} parameters), Keras backend "
            f"`{keras.backend.backend()}`, {len(digits):,} MNIST test digits, best of {args.repeats}. "
            f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            "| digits per model call | digits/s | seconds |",
            "|---:|---:|---:|",
            f"| {MODEL_ROWS} | {rate:,.0f} | {best:.2f} |",
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
