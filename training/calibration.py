"""Temperature scaling (Guo et al. 2017): one scalar T fitted on held-out logits."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from docproc.audit.metrics import negative_log_likelihood, softmax


def fit_temperature(logits: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The T in [low, high] that minimizes the NLL of softmax(logits / T) on a validation split.

    NLL is unimodal in log T, so a bounded scalar search on log T finds the minimum.
    """
    def loss(log_t: float) -> float:
        return negative_log_likelihood(softmax(logits, math.exp(log_t)), labels)

    found = minimize_scalar(loss, bounds=(math.log(low), math.log(high)), method="bounded", options={"xatol": 1e-6})
    return math.exp(float(found.x))
