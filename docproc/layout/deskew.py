"""How far a page is tilted: the angle that makes its ink rows sharpest."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

# The widest tilt looked for, either way: a page fed askew, or laid on a flatbed by hand.
MAX_SKEW_DEG = 20.0
# A tilt found this close to the edge of the search may lie beyond it.
AT_THE_EDGE_DEG = 0.5


def _shrunk(ink: np.ndarray, factor: float) -> np.ndarray:
    """``ink`` shrunk by ``factor`` each way (at least one pixel)."""
    height, width = ink.shape
    size = (max(1, int(round(width * factor))), max(1, int(round(height * factor))))
    return cv2.resize(ink, size, interpolation=cv2.INTER_AREA)


def _sharpness(small: np.ndarray, width: float) -> Callable[[float], float]:
    """The projection-profile sharpness, at an angle, of a shrunk mask (``_shrunk``) of a
    page ``width`` rows wide."""
    ys, xs = np.nonzero(small)
    weights = small[ys, xs].astype(np.float64)
    # Column centres, in row units (columns were pooled twice as hard), so that tan(angle)
    # turns them into row offsets.
    offset_x = (xs + 0.5 - small.shape[1] / 2.0) * 2.0
    margin = int(np.ceil(width * np.tan(np.radians(MAX_SKEW_DEG + 1.0)))) + 1
    size = small.shape[0] + 2 * margin + 1

    def sharpness(angle: float) -> float:
        # Shearing each pixel's row by (x - cx) * tan(angle) makes lines tilted by the
        # angle level: the projection profile, without rotating the image.
        position = ys + offset_x * np.tan(np.radians(angle)) + margin
        row = np.floor(position).astype(np.int64)
        upper = position - row  # split each pixel between its two rows: sub-pixel precision
        profile = (np.bincount(row, weights=weights * (1 - upper), minlength=size)
                   + np.bincount(row + 1, weights=weights * upper, minlength=size))
        return float(np.square(np.diff(profile)).sum())

    return sharpness


def _best(sharpness: Callable[[float], float], centre: float, reach: float, step: float) -> float:
    """The sharpest angle from ``centre - reach`` to ``centre + reach`` by ``step``, inside
    the search range: a page is never turned further than it allows."""
    low, high = max(-MAX_SKEW_DEG, centre - reach), min(MAX_SKEW_DEG, centre + reach)
    return float(max(np.arange(low, high + 1e-9, step), key=sharpness))


def estimate_skew(mask: np.ndarray) -> float:
    """The page's tilt in degrees (counter-clockwise positive), up to ``MAX_SKEW_DEG``,
    from the angle that makes ink rows sharpest: printed rules and lines of writing are
    horizontal on the form."""
    if not mask.any():
        return 0.0
    ink = (mask if mask.dtype == bool else mask.astype(bool)).view(np.uint8) * np.uint8(255)
    height, width = mask.shape
    scale = min(1.0, 800.0 / max(width, 1))
    # Columns are pooled twice as hard as rows: the angle's precision comes from the
    # rows (where ink lands) over the page's width, not from how many columns there are.
    fine = cv2.resize(ink, (max(1, int(width * scale / 2.0)), max(1, int(height * scale))),
                      interpolation=cv2.INTER_AREA)
    fine_width = width * scale  # the page's width in the fine mask's rows
    # Coarse to fine: on a mask an eighth as wide a line's peak is eight times as broad,
    # so whole-degree steps cannot step over it; wider masks then place it. Each is shrunk
    # from the finest, not from the page.
    coarse = _best(_sharpness(_shrunk(fine, 1 / 8), fine_width / 8), 0.0, MAX_SKEW_DEG, 1.0)
    middle = _best(_sharpness(_shrunk(fine, 1 / 2), fine_width / 2), coarse, 1.5, 0.25)
    return float(round(_best(_sharpness(fine, fine_width), middle, 0.25, 0.05), 2))


def beyond_range(angle: float) -> bool:
    """Whether a tilt found is at the edge of the search, so the page may be tilted further
    than docproc straightens."""
    return abs(angle) >= MAX_SKEW_DEG - AT_THE_EDGE_DEG
