"""The MNIST normalization recipe: any digit crop in, a 28x28 float32 MNIST-like image out.

MNIST digits were size-normalized to fit a 20x20 box preserving aspect ratio, anti-aliased
(so grey levels appear), then placed in a 28x28 frame with the ink's centre of mass at the
centre. The model only sees digits made this way, so both the pipeline and the training
augmentation go through ``normalize_glyph``: a crop that skips the recipe loses most of
the model's accuracy.
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 28
BOX = 20
# Where MNIST's ink centre of mass sits, in pixel-index coordinates (pixel i spans
# [i-0.5, i+0.5]). Measured on the MNIST test split: mean (13.99, 14.01), spread 0.29 px,
# i.e. MNIST shifted by whole pixels to put the mass on pixel 14. Re-normalizing MNIST
# test digits with this function changes them by 5e-5 on average (tests check it).
CENTRE = 14.0


def normalize_glyph(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Turn one digit's ink image into a 28x28 float32 array in [0, 1], ink high.

    ``ink`` is a 2-D array of any numeric dtype where ink is high and background is 0
    (grey levels allowed). The ink's bounding box is scaled so its longer side is ``box``
    pixels, preserving aspect ratio, then shifted by whole pixels so the centre of mass
    lands on pixel (14, 14). An image without ink returns all zeros.
    """
    if ink.ndim != 2:
        raise ValueError(f"normalize_glyph takes a 2-D image, got shape {ink.shape}")
    img = ink.astype(np.float32, copy=False)
    peak = float(img.max()) if img.size else 0.0
    if peak <= 0.0:
        return np.zeros((SIZE, SIZE), np.float32)
    img = img / peak
    rows = np.flatnonzero(img.max(axis=1) > 0)
    cols = np.flatnonzero(img.max(axis=0) > 0)
    img = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = img.shape
    scale = box / max(height, width)
    new_w = max(1, round(width * scale))
    new_h = max(1, round(height * scale))
    # INTER_AREA anti-aliases when shrinking (as MNIST did); INTER_LINEAR keeps small
    # crops smooth when enlarging.
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(img, (new_w, new_h), interpolation=interp)
    np.clip(small, 0.0, 1.0, out=small)
    total = float(small.sum())
    if total <= 0.0:
        return np.zeros((SIZE, SIZE), np.float32)
    ys, xs = np.indices(small.shape, dtype=np.float32)
    com_y = float((ys * small).sum() / total)
    com_x = float((xs * small).sum() / total)
    top = int(round(CENTRE - com_y))
    left = int(round(CENTRE - com_x))
    # Keep the whole glyph inside the frame even when its mass is far off-centre.
    top = min(max(top, 0), SIZE - new_h)
    left = min(max(left, 0), SIZE - new_w)
    out = np.zeros((SIZE, SIZE), np.float32)
    out[top : top + new_h, left : left + new_w] = small
    return out


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """Centre of mass (row, col) of each image in a (N, H, W) stack, in pixel indices."""
    stack = images.astype(np.float64)
    total = stack.sum(axis=(1, 2))
    total[total == 0] = 1.0
    ys = np.arange(stack.shape[1], dtype=np.float64)
    xs = np.arange(stack.shape[2], dtype=np.float64)
    com_y = (stack.sum(axis=2) * ys).sum(axis=1) / total
    com_x = (stack.sum(axis=1) * xs).sum(axis=1) / total
    return np.stack([com_y, com_x], axis=1)
