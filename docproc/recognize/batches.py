"""Run a Keras model over normalized crops in batches of a few fixed shapes."""

from __future__ import annotations

from typing import Any

import numpy as np


def _bucket(count: int, batch_size: int) -> int:
    # Feed the model a handful of fixed shapes (powers of two up to the batch size), so a
    # backend compiles each shape once instead of once per odd-sized tail batch.
    size = 1
    while size < count and size < batch_size:
        size *= 2
    return min(size, batch_size)


def predict_in_batches(model: Any, crops: np.ndarray, batch_size: int, width: int) -> np.ndarray:
    """Run ``model`` over (N, 28, 28[, 1]) crops in batches of at most ``batch_size``; the
    tail batch is padded to a power of two so the backend sees few distinct shapes."""
    if crops.ndim == 3:
        crops = crops[..., None]
    if crops.shape[1:] != (28, 28, 1):
        raise ValueError(f"crops must be (N, 28, 28[, 1]), got {crops.shape}")
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    count = len(crops)
    out = np.empty((count, width), np.float32)
    start = 0
    while start < count:
        size = _bucket(count - start, batch_size)
        chunk = crops[start : start + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.zeros((size - len(chunk), 28, 28, 1), np.float32)])
        taken = min(size, count - start)
        out[start : start + taken] = np.asarray(model.predict_on_batch(chunk))[:taken]
        start += taken
    return out
