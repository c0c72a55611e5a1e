"""Evaluate a digit model on its test sets and write its card (``docproc/models/*.json``).

    python -m training.evaluate [--model docproc/models/digits-cnn.keras] [--real ../shared/data]

The test sets, one per source of the training data, none of them ever trained on: the
MNIST test split; the held-out fonts (training/sources.py); optdigits' writer-independent
file (13 writers); marks drawn and rendered from the held-out fonts; and, where the
folder is there, the real dev cheques read by ``docproc run`` (benchmarks/real.py).
Every figure on the card is computed here from the model file and those sets; none is
typed by hand. Training details (command, time, machine, data) come from the
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
from docproc.datasets import mnist, uci_digits
from docproc.recognize.classes import CLASSES, DIGIT_COLUMNS, MARKS
from docproc.recognize.classifier import DigitClassifier
from docproc.recognize.loading import load_classifier
from docproc.recognize.model_files import SHIPPED_MODEL, card_path, companion_path
from training import sources
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
    """What every model card starts with: the file, its checksum, its contract, its size,
    and its ONNX twin (training/twins.py; exported first when it is missing or stale)."""
    from training.twins import current_twin

    return {
        "name": model_path.stem,
        "file": model_path.name,
        "file_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "contract": {"input": INPUT_CONTRACT, "output": output},
        "parameters": parameters,
        "twin": current_twin(model_path),
    }


# Seeds of the marks test: apart from the training (seed, epoch) draws and the validation seed.
MARKS_TEST_SEED = 20261201
MARKS_TEST_DRAWN = 2000


def _scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float | int]:
    predicted = probabilities.argmax(axis=1)
    right = predicted == labels
    return {"count": int(len(labels)), "accuracy": float(right.mean()), "errors": int((~right).sum()),
            "ece": metrics.expected_calibration_error(probabilities.max(axis=1).astype(np.float64), right, ECE_BINS)}


def marks_test() -> sources.Crops:
    """Marks and strokes never trained on: drawn from a seed of their own, and every mark
    of the held-out fonts at every size, each augmented once."""
    from docproc.datasets import fonts as font_files
    from training import augment

    rng = np.random.default_rng(MARKS_TEST_SEED)
    drawn = sources.drawn_crops(MARKS_TEST_DRAWN, rng)
    rendered = sources.font_crops(font_files.held_out_fonts(), symbols=MARKS)
    images = np.concatenate([
        augment.augment_batch(drawn.images, [MARKS_TEST_SEED, 1], sources.MARK_AUGMENT),
        augment.augment_batch(rendered.images, [MARKS_TEST_SEED, 2], sources.FONT_AUGMENT),
    ])
    return sources.Crops(sources.as_uint8(images), np.concatenate([drawn.labels, rendered.labels]))


def by_source(classifier: DigitClassifier, real: Path | None) -> dict[str, object]:
    """The model's figures on each test set: one pass of the model (``predict``), as the
    MNIST figures are; the real cheques as ``docproc run`` reads them."""
    windep = uci_digits.read_optdigits(sources.REAL_DIGITS / sources.UCI_TEST_FILE)
    windep_crops = uci_digits.recipe_crops(windep)
    from docproc.datasets import fonts as font_files

    fonts = sources.held_out_font_crops()
    found: dict[str, object] = {
        "held_out_fonts": {"what": f"the digits of the {len(font_files.held_out_fonts())} held-out fonts at "
                                   f"{len(sources.FONT_SIZES)} sizes, each augmented 3 times",
                           **_scores(classifier.predict(fonts.images.astype(np.float32) / 255.0), fonts.labels)},
        "optdigits_windep": {"what": f"{sources.UCI_TEST_FILE}: 13 writers never trained on, read as docproc "
                                     "classify reads a crop",
                             **_scores(classifier.predict(windep_crops), windep.labels)},
    }
    if classifier.width > DIGIT_COLUMNS:
        marks = marks_test()
        probabilities = classifier.predict(marks.images.astype(np.float32) / 255.0)
        no_digit = probabilities[:, DIGIT_COLUMNS:].sum(axis=1) > probabilities[:, :DIGIT_COLUMNS].sum(axis=1)
        found["marks"] = {"what": f"{MARKS_TEST_DRAWN} drawn marks and strokes and the held-out fonts' marks, "
                                  "augmented; 'no_digit' is the share read as no digit at all",
                          "no_digit": float(no_digit.mean()), **_scores(probabilities, marks.labels)}
    if real is not None and (real / "orand-car-a-dev").is_dir():
        from benchmarks.real import cheque_readings, field_scores

        readings, rate = cheque_readings(real / "orand-car-a-dev", classifier, reader="segment")
        figures = field_scores([(r.truth, r.text, r.confidence) for r in readings])
        found["real_cheques"] = {"what": "orand-car-a-dev: 540 real courtesy amounts read by docproc run "
                                         "--reader segment (this model's reading), no template (python -m "
                                         "benchmarks.real has the full table, every reader)",
                                 "fields": len(readings), **{k: float(v) for k, v in figures.items()},
                                 "images_per_second": rate}
    return found


def evaluate(model_path: Path, command: str, real: Path | None = None) -> dict[str, object]:
    """Compute the card for one model file on its test sets; ``command`` is recorded as
    the command that evaluated it."""
    classifier = load_classifier(model_path, sequence=False, runtime="keras")  # its layers: temperature, logits
    test = mnist.load("test")
    x = test.images.astype(np.float32) / 255.0
    probabilities = classifier.predict(x)
    predicted = probabilities.argmax(axis=1)
    correct = predicted == test.labels
    # A digit read as a mark is an error; the matrix keeps the ten digit columns.
    matrix = metrics.confusion_matrix(test.labels, probabilities[:, :DIGIT_COLUMNS].argmax(axis=1))

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

    width = classifier.width
    return {
        **card_header(model_path, f"(N, {width}) calibrated class probabilities (temperature folded in)",
                      classifier.parameter_count()),
        "classes": list(CLASSES[:width]),
        "test": {
            "split": "MNIST t10k (10,000 digits, writers disjoint from training)",
            "digits": int(len(test.labels)),
            "accuracy": float(correct.mean()),
            "errors": int((~correct).sum()),
            "read_as_no_digit": int((predicted >= DIGIT_COLUMNS).sum()),
            "per_class": [asdict(s) for s in metrics.per_class_scores(matrix)],
            "confusion_matrix": matrix.tolist(),
        },
        "tests": by_source(classifier, real),
        "calibration": {
            "method": "temperature scaling fitted on the validation split, folded into the model",
            "temperature": temperature,
            "bins": ECE_BINS,
            "ece_before": metrics.expected_calibration_error(raw.max(axis=1), raw_correct, ECE_BINS),
            "ece_after": metrics.expected_calibration_error(probabilities.max(axis=1), correct, ECE_BINS),
            "nll_before": metrics.negative_log_likelihood(raw, test.labels),
            "nll_after": metrics.negative_log_likelihood(probabilities.astype(np.float64), test.labels),
        },
        "data": training.pop("data", {"source": f"npm {mnist.NPM_PACKAGE}", "sha256": mnist.SHA256}),
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
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    parser.add_argument("--real", type=Path, default=sources.REPO.parent / "shared" / "data",
                        help="the folder holding orand-car-a-dev/ (measured where it is there)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    card = evaluate(args.model, shlex.join(["python", "-m", "training.evaluate", *argv]), args.real)
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
