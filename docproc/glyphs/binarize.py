"""Ink from grey: the paper level, the ink strength against it, and the ink mask.

Every threshold is relative to the local paper or the image's own statistics, so the
same code serves a whole page (template registration, string finding) and one field.
"""

from __future__ import annotations

import cv2
import numpy as np


def paper_level(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness at every pixel, estimated by removing dark strokes with a
    grey-level dilation on a quarter-size image (fast, and follows uneven lighting)."""
    height, width = grey.shape
    small = cv2.resize(grey, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
    size = max(3, min(small.shape) // 4) | 1
    size = min(size, 15)
    background = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    background = cv2.blur(background, (size, size))
    return cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def binarize(grey: np.ndarray, floor: float = 0.28) -> tuple[np.ndarray, np.ndarray]:
    """Ink strength in [0, 1] relative to the local paper, and the ink mask.

    The threshold is Otsu's on the ink strength, but never below ``floor``: tinted paper
    and light security patterns stay below it while pen strokes, blue or black, are far
    above.
    """
    ink, mask, _ = binarize_on_paper(grey, floor)
    return ink, mask


def binarize_on_paper(grey: np.ndarray, floor: float = 0.28) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``binarize``, and the paper level it measured ink against (``paper_level``)."""
    paper = paper_level(grey)
    ink = np.clip(1.0 - grey.astype(np.float32) / np.maximum(paper, 1.0), 0.0, 1.0)
    ink8 = (ink * 255).astype(np.uint8)
    otsu, _ = cv2.threshold(ink8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold = max(otsu / 255.0, floor)
    return ink, ink > threshold, paper


# Hysteresis for pen strokes: faint ink joins a stroke if it is above LOW_INK and
# LOW_MARGIN above the background's 99th percentile (security patterns, noise).
LOW_INK = 0.18
LOW_MARGIN = 0.06
BACKGROUND_PERCENTILE = 99.0


def grow_strokes(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mask grown into connected ink that stands out from the background (hysteresis):
    the faint stretches of a light pen stroke join the stroke instead of breaking into
    specks. How faint is judged against the background away from the strokes, so a
    security pattern or noise does not grow in."""
    away = ~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    background = float(np.percentile(ink[away], BACKGROUND_PERCENTILE)) if away.any() else 0.0
    low = max(LOW_INK, background + LOW_MARGIN)
    weak = (ink > low).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[mask])] = True
    keep[0] = False
    return keep[labels]

