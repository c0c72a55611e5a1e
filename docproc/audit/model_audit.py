"""The model audit: the digit model on the MNIST test split, through the same figures,
plots and report as a field audit (`docproc model --report DIR`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from docproc.audit import metrics, report, scores
from docproc.recognize.classes import CLASSES, DIGIT_COLUMNS

CARD_BINS = 15  # the model card's ECE uses 15 bins; the report agrees with the card
MNIST_TEST = "MNIST t10k (10,000 digits, writers disjoint from training)"


def model_figures(probabilities: np.ndarray, labels: np.ndarray, target_error: float) -> dict[str, Any]:
    """Accuracy, per-digit scores, confusion, review trade-off and calibration of a
    digit model's (N, C) probabilities against the true labels. A digit read as a mark is
    an error; the confusion matrix is of the ten digit columns."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1).astype(np.float64)
    right = predicted == labels
    matrix = metrics.confusion_matrix(labels, probabilities[:, :DIGIT_COLUMNS].argmax(axis=1))
    return {
        "overall": {"digits": int(len(labels)), "right": int(right.sum()), "errors": int((~right).sum()),
                    "accuracy": float(right.mean()) if len(labels) else 0.0},
        "digits": {
            "confusion_matrix": matrix.tolist(),
            "labels": [str(d) for d in range(10)],
            "per_digit": [asdict(s) for s in metrics.per_class_scores(matrix)],
        },
        "review": scores.review_figures(confidence, right, target_error),
        "calibration": scores.calibration_figures(confidence, right, CARD_BINS),
    }


def worst_mistakes(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, limit: int) -> list[report.GalleryItem]:
    """The model's most confident mistakes, each with its digit drawn dark on light."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    items = []
    for index in wrong:
        top = np.argsort(-probabilities[index])[:3]
        picture = cv2.resize(255 - images[index], (84, 84), interpolation=cv2.INTER_NEAREST)
        items.append(report.GalleryItem(
            where=f"test digit #{index}", truth=str(labels[index]), text=CLASSES[predicted[index]],
            confidence=float(confidence[index]),
            digit_confidences=", ".join(f"{CLASSES[d]}: {probabilities[index, d]:.3f}" for d in top),
            outcome="wrong", crop_png=cv2.imencode(".png", picture)[1].tobytes(),
        ))
    return items


def audit_model(model_path: Path | None, out: Path, target_error: float, gallery: int) -> tuple[Path, dict[str, Any]]:
    """Run the digit model (the shipped one by default) on the MNIST test split and write
    the report into ``out``; returns report.html's path and the figures."""
    from docproc.datasets import mnist
    from docproc.recognize.loading import load_classifier

    classifier = load_classifier(model_path, check=False, sequence=False)
    test = mnist.load("test")
    probabilities = classifier.predict(test.images.astype(np.float32) / 255.0)
    figures = model_figures(probabilities, test.labels, target_error)
    sources = {"model": str(classifier.path), "data": MNIST_TEST, "date": dt.date.today().isoformat()}
    items = worst_mistakes(test.images, test.labels, probabilities, gallery)
    return report.write_report(out, figures, items, sources, report.render_model_html, unit="digits"), figures
