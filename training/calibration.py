"""Temperature scaling (Guo et al. 2017): one scalar T fitted on held-out logits."""

from __future__ import annotations

import math

import numpy as np

from docproc.metrics import negative_log_likelihood, softmax


def fit_temperature(logits: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The T > 0 that minimizes the NLL of softmax(logits / T) on a validation split.

    NLL is unimodal in log T, so a golden-section search on log T finds the minimum
    without an optimizer library.
    """
    def loss(log_t: float) -> float:
        return negative_log_likelihood(softmax(logits, math.exp(log_t)), labels)

    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > 1e-6:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    return math.exp((a + b) / 2.0)
