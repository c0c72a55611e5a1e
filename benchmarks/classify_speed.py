"""How many normalized digits per second the shipped model classifies.

    python -m benchmarks.classify_speed [--model PATH] [--digits 20000] [--repeats 3]

Times ``DigitClassifier.predict`` on MNIST test digits (already 28x28, so this measures the
model alone, not segmentation; every call is ``MODEL_ROWS`` digits, whatever the batch
size, see docproc/recognize/batches.py) with each runtime (the ONNX twin, and the Keras
file on TensorFlow), and the model alone in calls of 1024 digits, after one warm-up pass;
reports the best of ``--repeats`` runs and writes them to benchmarks/RESULTS.md with the
machine they ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.results_file import machine_line, write_section  # noqa: E402
from docproc.datasets import mnist  # noqa: E402
from docproc.recognize.batches import MODEL_ROWS  # noqa: E402
from docproc.recognize.classifier import DigitClassifier  # noqa: E402
from docproc.recognize.loading import load_classifier  # noqa: E402

RUNTIMES = ("onnx", "keras")
LARGE_CALL = 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--digits", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    test = mnist.load("test")
    reps = -(-args.digits // len(test.labels))
    digits = np.tile(test.images.astype(np.float32) / 255.0, (reps, 1, 1))[: args.digits]
    rows, name, parameters = [], "", 0
    for runtime in RUNTIMES:
        classifier = load_classifier(args.model, sequence=False, runtime=runtime)
        name, parameters = classifier.path.name, classifier.parameter_count()
        runner = DigitClassifier(classifier.model, classifier.path)
        runner.predict(digits[: MODEL_ROWS * 2])  # warm-up: graph tracing and allocator
        best = min(_timed(runner.predict, digits) for _ in range(args.repeats))
        # The model alone in calls of LARGE_CALL rows (the figure was taken so).
        model = classifier.model
        batches = [digits[i : i + LARGE_CALL, :, :, None] for i in range(0, len(digits), LARGE_CALL)]
        model.predict_on_batch(batches[0])
        large = min(_timed(_each_batch, model, batches) for _ in range(args.repeats))
        engine = "ONNX Runtime " + _version("onnxruntime") if runtime == "onnx" else \
            f"Keras {_version('keras')} on {os.environ.get('KERAS_BACKEND', 'tensorflow')}"
        for rows_a_call, seconds in ((MODEL_ROWS, best), (LARGE_CALL, large)):
            rate = len(digits) / seconds
            rows.append((runtime, engine, rows_a_call, rate, seconds))
            print(f"--runtime {runtime:5} {rows_a_call:5} a call: {rate:10,.0f} digits/s ({seconds:.2f} s)", flush=True)

    body = "\n".join(
        [
            "## Classification throughput (`python -m benchmarks.classify_speed`)",
            "",
            f"Model `{name}` ({parameters:,} parameters), {len(digits):,} MNIST test digits, best of {args.repeats}, "
            f"with each runtime: {MODEL_ROWS} digits a call is what docproc reads with (docproc/recognize/batches.py), "
            f"{LARGE_CALL} the model alone in larger calls. Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            "| runtime | engine | digits per model call | digits/s | seconds |",
            "|---|---|---:|---:|---:|",
            *[f"| {runtime} | {engine} | {n} | {rate:,.0f} | {seconds:.2f} |" for runtime, engine, n, rate, seconds in rows],
        ]
    )
    if not args.no_write:
        print(f"written to {write_section('classify-speed', body)}")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _each_batch(model: Any, batches: list[np.ndarray]) -> None:
    for batch in batches:
        model.predict_on_batch(batch)


def _timed(work: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    work(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
