"""Classification and calibration metrics on plain numpy arrays.

Shared by the model card (training/evaluate.py) and the accuracy audits, so a figure means
the same thing wherever it is printed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class, with its support (true count)."""

    label: int
    precision: float
    recall: float
    f1: float
    support: int


def per_class_scores(matrix: np.ndarray) -> list[ClassScores]:
    """Precision, recall and F1 for each class of a confusion matrix (0 where undefined)."""
    scores = []
    for label in range(matrix.shape[0]):
        hits = float(matrix[label, label])
        predicted = float(matrix[:, label].sum())
        actual = float(matrix[label, :].sum())
        precision = hits / predicted if predicted else 0.0
        recall = hits / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(ClassScores(label, precision, recall, f1, int(actual)))
    return scores


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin: its range, how many predictions fell in, their mean confidence
    and the share of them that were right."""

    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> list[ReliabilityBin]:
    """Equal-width confidence bins over [0, 1] (the last one closed), as in Guo et al. 2017."""
    # k / bins, not linspace: a confidence of exactly 0.6 belongs in [0.6, 0.7), and
    # linspace's 0.6000000000000001 would put it below.
    edges = np.arange(bins + 1) / bins
    index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    result = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        result.append(
            ReliabilityBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=count,
                confidence=float(confidence[mask].mean()) if count else 0.0,
                accuracy=float(correct[mask].mean()) if count else 0.0,
            )
        )
    return result


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over the bins."""
    total = len(confidence)
    if total == 0:
        return 0.0
    return float(sum(b.count * abs(b.accuracy - b.confidence) for b in reliability_bins(confidence, correct, bins)) / total)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, computed stably in float64."""
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean NLL of the true labels."""
    picked = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    return float(-np.log(np.clip(picked, 1e-300, 1.0)).mean())


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative (ties count half), by the Mann-Whitney rank sum. NaN without both classes."""
    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # Average ranks (1-based), tied scores sharing the mean of their positions.
    values, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 100) -> tuple[np.ndarray, float]:
    """Weights and bias of the logistic regression of ``y`` (0/1) on ``x`` (N, K), by
    Newton's method with a small L2 penalty on the weights (not the bias)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -500, 500)))
        gradient = design.T @ (p - y) + penalty @ theta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty + np.eye(len(theta)) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta[:-1], float(theta[-1])


def cross_validated_recalibration(confidence: np.ndarray, correct: np.ndarray, folds: int = 5,
                                  seed: int = 0) -> np.ndarray:
    """Each confidence recalibrated by a logistic fit on its logit (Platt scaling) made on
    the other folds only: what a calibration fitted on data like these would give on
    data it has not seen. Where each fit's weight is positive (confidence means what it
    should, only by the wrong amount) the order is kept, so the errors among accepted
    fields at a review share stay as they were; only the calibration error changes."""
    logit = np.log(np.clip(confidence, 1e-9, 1 - 1e-9) / np.clip(1 - confidence, 1e-9, 1.0))[:, None]
    fold_of = np.random.default_rng(seed).permutation(len(confidence)) % folds
    out = np.empty(len(confidence), np.float64)
    for fold in range(folds):
        held = fold_of == fold
        weights, bias = fit_logistic(logit[~held], correct[~held].astype(np.float64))
        out[held] = 1.0 / (1.0 + np.exp(-(logit[held] @ weights + bias)))
    return out


def error_upper_bound(errors: int, count: int, level: float = 0.95) -> float:
    """The one-sided Clopper-Pearson upper bound on an error rate seen as ``errors`` in
    ``count`` trials, at ``level``: the true rate is under it with that confidence. 1 for
    no trials. With no errors it is 1 - (1 - level) ** (1 / count), about 3 / count."""
    from scipy.stats import beta

    if count <= 0:
        return 1.0
    if errors >= count:
        return 1.0
    return float(beta.ppf(level, errors + 1, count - errors))


def trials_needed(target: float, level: float = 0.95) -> int:
    """The fewest error-free trials whose upper bound (``error_upper_bound``) is at most
    ``target``: the sample it takes to show a rate that low at all."""
    import math

    if target <= 0.0:
        raise ValueError("no sample shows an error rate of 0: give a target above 0")
    return math.ceil(math.log(1.0 - level) / math.log(1.0 - target))
