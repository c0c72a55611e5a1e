"""Run a Keras model over normalized crops, MODEL_ROWS crops a call."""

from __future__ import annotations

from typing import Any

import numpy as np

# Every call to a model has exactly this many rows, the last call padded with blank crops.
# A crop's probabilities move in the seventh decimal with the number of rows of the call
# it is in (TensorFlow 2.21 on this CPU: 1.8e-7 between 16 and 1024 rows), but not with
# its place among them or with its neighbours: one shape for every call makes a crop's
# reading a function of the crop alone, so the results cannot depend on --batch-size,
# --jobs or what else a batch holds. 64 rows read cheque pages as fast as the earlier
# power-of-two shapes did; 128 and 256 pad more and were slower.
MODEL_ROWS = 64


def predict_in_batches(model: Any, crops: np.ndarray, width: int) -> np.ndarray:
    """Run ``model`` over (N, 28, 28[, 1]) crops, MODEL_ROWS at a time; (N, ``width``) out."""
    if crops.ndim == 3:
        crops = crops[..., None]
    if crops.shape[1:] != (28, 28, 1):
        raise ValueError(f"crops must be (N, 28, 28[, 1]), got {crops.shape}")
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    count = len(crops)
    out = np.empty((count, width), np.float32)
    for start in range(0, count, MODEL_ROWS):
        chunk = crops[start : start + MODEL_ROWS]
        taken = len(chunk)
        if taken < MODEL_ROWS:
            chunk = np.concatenate([chunk, np.zeros((MODEL_ROWS - taken, 28, 28, 1), np.float32)])
        out[start : start + taken] = np.asarray(model.predict_on_batch(chunk))[:taken]
    return out
