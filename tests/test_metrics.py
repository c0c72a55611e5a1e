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


def test_a_logistic_fit_finds_the_weights_that_made_the_data() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(x @ np.array([2.0, -1.0]) + 0.5)))).astype(float)
    weights, bias = metrics.fit_logistic(x, y)
    np.testing.assert_allclose(weights, [2.0, -1.0], atol=0.2)
    assert abs(bias - 0.5) < 0.15


def test_cross_validated_recalibration_mends_overconfidence_without_reordering() -> None:
    rng = np.random.default_rng(9)
    truly = rng.uniform(0.3, 1.0, 3000)
    right = rng.random(3000) < truly
    claimed = truly ** 0.2  # far surer than it should be
    mended = metrics.cross_validated_recalibration(claimed, right, folds=5, seed=1)
    before = metrics.expected_calibration_error(claimed, right)
    after = metrics.expected_calibration_error(mended, right)
    assert before > 0.1 and after < 0.05
    # Each fold's fit is monotone and the folds' fits nearly equal: the ranking survives.
    ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    assert np.corrcoef(ranks(claimed), ranks(mended))[0, 1] > 0.999
