"""Measure the sequence reader and write its model card (docproc/models/sequence-ctc.json).

    python -m training.evaluate_sequence [--model docproc/models/sequence-ctc.keras] [--data ../shared/data]

Four tests, none of them ever trained on:

- generated fields written like the training fields, with MNIST's held-out validation
  digits (a draw of its own, not the validation draw that chose the epoch);
- unseen writers: fields written with MNIST test digits only;
- unseen styles: fields written with the held-out fonts only;
- real cheque amounts: the dev half of ORAND-CAR-A (``orand-car-a-dev`` in the data
  folder; measuring only), each image read as one field, when the folder is there.

Each field is read by the unconstrained beam search (docproc.recognize.ctc); it is right
when its digits are the truth's (marks left out, as the real labels leave them out). The
confidence is the reading's probability as the reader gives it, not yet calibrated. Also:
the error among accepted fields with the least confident 10% and 25% reviewed, the
calibration error, and the speed on this machine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from docproc.audit import metrics  # noqa: E402
from docproc.audit.scores import error_at_review_share  # noqa: E402
from docproc.datasets import fonts as font_files  # noqa: E402
from docproc.datasets import mnist  # noqa: E402
from docproc.glyphs.line_image import line_image  # noqa: E402
from docproc.recognize.classes import SEQUENCE_BLANK, SEQUENCE_SYMBOLS  # noqa: E402
from docproc.recognize.ctc import beam_search  # noqa: E402
from docproc.recognize.model_files import SHIPPED_SEQUENCE, card_path, companion_path  # noqa: E402
from docproc.run.fingerprint import file_sha256  # noqa: E402
from training import sequence_fields  # noqa: E402
from training.train import machine_description  # noqa: E402
from training.train_sequence import source_digits  # noqa: E402
from training.twins import current_twin  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
FIELDS_PER_TEST = 1000
SEED = 20261202
ECE_BINS = 15


def read_fields(reader: object, lines: list[np.ndarray]) -> tuple[list[str], list[float], float]:
    """Each line's best reading (symbols) and its probability, and the reader's seconds."""
    started = time.perf_counter()
    columns = reader.read(lines)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - started
    readings = [(beam_search(c, best=1) or [None])[0] for c in columns]
    return ([r.symbols if r else "" for r in readings], [r.probability if r else 0.0 for r in readings], seconds)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def figures(truths: list[str], readings: list[str], confidences: list[float]) -> dict[str, float]:
    """Field accuracy (digits), exact symbols, review errors and calibration error."""
    right = np.array([_digits(t) == _digits(r) for t, r in zip(truths, readings)])
    confidence = np.array(confidences, np.float64)
    return {
        "fields": len(truths),
        "field_accuracy": float(right.mean()),
        "symbols_exact": float(np.mean([t == r for t, r in zip(truths, readings)])),
        "error_at_10": error_at_review_share(confidence, right, 0.10),
        "error_at_25": error_at_review_share(confidence, right, 0.25),
        "ece": metrics.expected_calibration_error(confidence, right, ECE_BINS),
    }


def generated_test(reader: object, digits: mnist.Split, fonts: tuple[font_files.Font, ...],
                   shares: dict[str, float], seed: list[int], count: int) -> dict[str, float]:
    """The reader's figures on ``count`` generated fields from the given sources."""
    srcs = replace(sequence_fields.load_sources(digits, fonts), shares=shares)
    lines, texts = sequence_fields.make_lines(srcs, count, seed)
    readings, confidences, seconds = read_fields(reader, lines)
    return {**figures(texts, readings, confidences), "fields_per_second": len(lines) / seconds}


def real_test(reader: object, folder: Path) -> dict[str, float] | None:
    """The figures on the real cheque amounts, or None when the folder is absent."""
    labels = folder / "labels.csv"
    if not labels.is_file():
        return None
    with labels.open(newline="") as handle:
        truth = {row["file"]: row["text"] for row in csv.DictReader(handle)}
    started = time.perf_counter()
    lines = [line_image(cv2.imread(str(folder / "images" / name), cv2.IMREAD_GRAYSCALE)) for name in truth]
    preparing = time.perf_counter() - started
    readings, confidences, seconds = read_fields(reader, lines)
    return {**figures(list(truth.values()), readings, confidences),
            "line_images_per_second": len(lines) / preparing, "fields_per_second": len(lines) / seconds}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Measure the reader and write its card beside it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=SHIPPED_SEQUENCE)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fields", type=int, default=FIELDS_PER_TEST, help="generated fields in each generated test")
    args = parser.parse_args(argv)
    from docproc.recognize.loading import load_sequence_reader

    reader = load_sequence_reader(args.model, runtime="keras")  # the model trained; its twin agrees (card: twin)
    everything = dict(sequence_fields.SOURCE_SHARES)
    tests: dict[str, object] = {
        "generated, held-out digits": generated_test(reader, source_digits(True), font_files.training_fonts(),
                                                     everything, [SEED, 1], args.fields),
        "unseen writers (MNIST test digits)": generated_test(reader, mnist.load("test"), font_files.training_fonts(),
                                                             {"mnist": 1.0}, [SEED, 2], args.fields),
        "unseen styles (held-out fonts)": generated_test(reader, source_digits(True), font_files.held_out_fonts(),
                                                         {"font": 1.0}, [SEED, 3], args.fields),
    }
    real = real_test(reader, args.data / "orand-car-a-dev")
    if real is not None:
        tests["real cheque amounts (ORAND-CAR-A dev half, 540)"] = real
    for name, values in tests.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in values.items()), flush=True)  # type: ignore[union-attr]
    training_log = companion_path(args.model, "training.json")
    training = json.loads(training_log.read_text()) if training_log.is_file() else {}
    card = {
        "name": args.model.stem,
        "file": args.model.name,
        "file_sha256": file_sha256(args.model),
        "twin": current_twin(args.model),
        "contract": {
            "input": "(N, 32, W, 1) float32 in [0, 1], ink high: docproc.glyphs.line_image of the field",
            "output": "(N, W / 4, 19) probabilities per column: the symbols, then the CTC blank",
        },
        "symbols": list(SEQUENCE_SYMBOLS),
        "blank": SEQUENCE_BLANK,
        "parameters": int(reader.model.count_params()),
        "tests": tests,
        "decoding": "docproc.recognize.ctc.beam_search, width 16, unconstrained; a field is right when its digits "
                    "are the truth's",
        "confidence": "the reading's probability as the reader gives it (not calibrated)",
        "training": {key: training.get(key) for key in ("command", "epochs_done", "best_epoch",
                                                        "best_val_field_accuracy", "continued", "wall_hours", "data",
                                                        "machine")},
        "measured": {"on": dt.date.today().isoformat(), "commit": _commit(), "machine": machine_description()},
    }
    card_path(args.model).write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {card_path(args.model)}", flush=True)
    return card


if __name__ == "__main__":
    main()
