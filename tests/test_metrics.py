"""Metrics on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from docproc.audit import metrics
from training.calibration import fit_temperature


def test_confusion_and_per_class_scores_by_hand() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2])
    matrix = metrics.confusion_matrix(truth, predicted, classes=3)
    assert matrix.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    zero, one, two = metrics.per_class_scores(matrix)
    assert (zero.precision, zero.recall, zero.support) == (1.0, 2 / 3, 3)
    assert zero.f1 == pytest.approx(0.8)
    assert (one.precision, one.recall) == (0.5, 0.5)
    assert (two.precision, two.recall) == (0.5, 1.0)
    assert two.f1 == pytest.approx(2 / 3)


def test_ece_by_hand() -> None:
    # Bin [0.8, 0.8667): two predictions at 0.8, one right -> gap 0.3.
    # Bin [0.9333, 1]: two at 1.0, both right -> gap 0.
    confidence = np.array([0.8, 0.8, 1.0, 1.0])
    correct = np.array([True, False, True, True])
    assert metrics.expected_calibration_error(confidence, correct, bins=15) == pytest.approx(0.5 * 0.3)
    assert metrics.expected_calibration_error(np.array([]), np.array([], bool)) == 0.0


def test_fit_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, size=(20000, 10))
    labels = np.array([rng.choice(10, p=p) for p in metrics.softmax(true_logits)])
    # An overconfident model: logits 2.5x too large. The fitted T should undo that.
    assert fit_temperature(true_logits * 2.5, labels) == pytest.approx(2.5, rel=0.05)
