"""Single-digit crops: an image file holding one digit, to the ink image the recipe wants.

This is what ``docproc classify`` reads. Whole pages go through the page pipeline
(ingest, fields, segment) instead.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from docproc.errors import InputFileError


def load_grey(path: Path) -> np.ndarray:
    """Read an image file as 8-bit grey. Raises InputFileError when it is not a readable image."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)  # np.fromfile copes with non-ASCII paths; cv2.imread does not
    except OSError as exc:
        raise InputFileError(f"Cannot read {path}: {exc.strerror}. Check the path and its permissions.") from exc
    grey = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE) if raw.size else None
    if grey is None:
        raise InputFileError(f"{path} is not an image OpenCV can decode (PNG, JPEG, BMP, TIFF). Check the file.")
    return grey


def ink_from_grey(grey: np.ndarray) -> np.ndarray:
    """Ink-high float32 image of a crop: paper becomes 0, the darkest ink about 1.

    Paper is taken as the brighter of the two Otsu classes (dark ink on light paper, the
    usual case; a crop with light ink on dark paper is inverted first). Everything as
    light as the paper threshold is cleared so specks of tint do not count as ink.
    """
    if grey.ndim != 2:
        raise ValueError(f"ink_from_grey takes a 2-D image, got {grey.shape}")
    threshold, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    # More "ink" than paper means the crop is light-on-dark: flip it.
    if np.count_nonzero(mask) > mask.size / 2:
        grey = 255 - grey
        threshold = 255 - threshold
    paper = float(np.median(grey[grey > threshold])) if np.any(grey > threshold) else 255.0
    ink = np.clip(paper - grey.astype(np.float32), 0.0, None)
    ink[grey > threshold] = 0.0
    peak = float(ink.max())
    return ink / peak if peak > 0 else ink
