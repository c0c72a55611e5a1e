"""Evaluate a digit model on the MNIST test split and write its card (``models/*.json``).

    python -m training.evaluate [--model models/digits-cnn.keras]

Every figure on the card is computed here from the model file and the test split; none is
typed by hand. Training details (command, time, machine) come from the
``*.training.json`` log that training/train.py writes beside the model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import platform
import shlex
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import numpy as np

from docproc.audit import metrics
from docproc.datasets import mnist
from docproc.recognize.loading import load_classifier
from docproc.recognize.model_files import card_path, companion_path
from training.model import logits_model, temperature_of

ECE_BINS = 15
LIBRARIES = ("keras", "tensorflow", "tensorflow-cpu", "jax", "numpy", "opencv-python-headless", "scikit-image")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shaped the result (the card lists those of
    the evaluation; the training log, those of the training run)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


INPUT_CONTRACT = "(N, 28, 28, 1) float32 in [0, 1], ink high, MNIST normalization recipe"


def card_header(model_path: Path, output: str, parameters: int) -> dict[str, object]:
    """What every model card starts with: the file, its checksum, its contract, its size."""
    return {
        "name": model_path.stem,
        "file": model_path.name,
        "file_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "contract": {"input": INPUT_CONTRACT, "output": output},
        "parameters": parameters,
    }


def evaluate(model_path: Path, command: str) -> dict[str, object]:
    """Compute the card for one model file on the MNIST test split; ``command`` is recorded
    as the command that evaluated it."""
    classifier = load_classifier(model_path)
    test = mnist.load("test")
    x = test.images.astype(np.float32) / 255.0
    probabilities = classifier.predict(x)
    predicted = probabilities.argmax(axis=1)
    correct = predicted == test.labels
    matrix = metrics.confusion_matrix(test.labels, predicted)

    temperature = temperature_of(classifier.model)
    logits = np.asarray(logits_model(classifier.model).predict(x[..., None], batch_size=1000, verbose=0))
    raw = metrics.softmax(logits)
    raw_correct = raw.argmax(axis=1) == test.labels

    training_log_path = companion_path(model_path, "training.json")
    training: dict[str, object] = {}
    if training_log_path.is_file():
        training = json.loads(training_log_path.read_text())
        training.pop("history", None)
        training["log"] = training_log_path.name
        training["curves"] = companion_path(model_path, "curves.png").name

    return {
        **card_header(model_path, "(N, 10) calibrated class probabilities (temperature folded in)",
                      classifier.parameter_count()),
        "test": {
            "split": "MNIST t10k (10,000 digits, writers disjoint from training)",
            "digits": int(len(test.labels)),
            "accuracy": float(correct.mean()),
            "errors": int((~correct).sum()),
            "per_class": [asdict(s) for s in metrics.per_class_scores(matrix)],
            "confusion_matrix": matrix.tolist(),
        },
        "calibration": {
            "method": "temperature scaling fitted on the validation split, folded into the model",
            "temperature": temperature,
            "bins": ECE_BINS,
            "ece_before": metrics.expected_calibration_error(raw.max(axis=1), raw_correct, ECE_BINS),
            "ece_after": metrics.expected_calibration_error(probabilities.max(axis=1), correct, ECE_BINS),
            "nll_before": metrics.negative_log_likelihood(raw, test.labels),
            "nll_after": metrics.negative_log_likelihood(probabilities.astype(np.float64), test.labels),
        },
        "data": {"source": f"npm {mnist.NPM_PACKAGE}", "sha256": mnist.SHA256},
        "training": training,
        "libraries": library_versions(),
        "evaluation": {
            "command": command,
            "date": dt.date.today().isoformat(),
        },
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Evaluate the model named on the command line and write its card beside it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path(__file__).resolve().parent.parent / "models" / "digits-cnn.keras")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    card = evaluate(args.model, shlex.join(["python", "-m", "training.evaluate", *argv]))
    target = card_path(args.model)
    target.write_text(json.dumps(card, indent=2) + "\n")
    test = card["test"]
    calibration = card["calibration"]
    assert isinstance(test, dict) and isinstance(calibration, dict)
    print(
        f"{args.model.name}: test accuracy {test['accuracy']:.4%} ({test['errors']} errors), "
        f"ECE {calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f}; card written to {target}"
    )
    return card


if __name__ == "__main__":
    main()
