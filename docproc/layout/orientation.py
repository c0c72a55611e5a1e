"""Which way up a page is, and whether it is the template's form at all: the template's
boxes hold the fields' writing and furniture, so, registered on the page turned the right
way, they hold far more ink than the page does on average; turned wrong, or on another
form, they do not."""

from __future__ import annotations

import cv2
import numpy as np

from docproc.layout.register import box_ink_ratio, box_pixels, register_shift
from docproc.layout.templates import Template

# Pages are judged shrunk to about this many pixels on their longer side: ink density in
# boxes needs no detail (at 200 the margin between the right turn and the next shrinks).
JUDGED_SIZE = 300
# Turned this way, the boxes must hold this many times more ink (per pixel) than the
# upright page's boxes do for the page to be turned: an upright page is never turned on
# a near tie.
TURN_MARGIN = 1.5
# The boxes of a page that fits its template, deskewed and registered, hold at least this
# many times the page's mean ink density (docproc's ink mask); on another form a few
# times as much where their furniture meets, on a blank page as much as anywhere.
MIN_FIT = 3.5

NOT_MATCHED = ("template did not match: its boxes hold little more ink than the rest of the page "
               "(another form, a blank page, or a page cut or scanned from the wrong side); check the template "
               "with `docproc template check T.yaml --overlay SCAN`")


def matches(fit: float) -> bool:
    """Whether a page whose placed boxes have this ink ratio (``register.box_ink_ratio``)
    looks like the template's form."""
    return fit >= MIN_FIT


def _ink(grey: np.ndarray) -> np.ndarray:
    """A shrunk ink mask of the page (every n-th pixel, Otsu's threshold: enough for ink
    density, and a tenth of the time an averaging resize takes)."""
    stride = max(1, int(np.ceil(max(grey.shape) / JUDGED_SIZE)))
    small = np.ascontiguousarray(grey[::stride, ::stride])
    _, mask = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return mask.astype(bool)


def _box_fit(mask: np.ndarray, template: Template) -> float:
    """The ink ratio of the template's boxes registered on ``mask`` (no deskew)."""
    height, width = mask.shape
    boxes = [box_pixels(spec, width, height) for spec in template.fields]
    dx, dy = register_shift(mask, boxes)
    return box_ink_ratio(mask, [(x0 + dx, y0 + dy, x1 + dx, y1 + dy) for x0, y0, x1, y1 in boxes])


def find_orientation(grey: np.ndarray, template: Template) -> int:
    """The quarter turns (counter-clockwise, as ``np.rot90``) that make ``grey`` upright
    for ``template``: 0 unless another way up fits the template ``TURN_MARGIN`` times
    better (judged before deskew, which a page turned wrong would only mislead)."""
    mask = _ink(grey)
    fits = [_box_fit(np.ascontiguousarray(np.rot90(mask, turns)), template) for turns in range(4)]
    best = int(np.argmax(fits))
    return best if best != 0 and fits[best] >= TURN_MARGIN * fits[0] else 0


def box_in_scan(box: tuple[int, int, int, int], turns: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box (x, y, w, h) on the page turned by ``turns`` (``np.rot90``), in the pixels of
    the page as stored, whose (height, width) is ``shape``."""
    height, width = shape
    x, y, w, h = box
    turns %= 4
    if turns == 0:
        return box
    if turns == 1:
        return (width - y - h, x, h, w)
    if turns == 2:
        return (width - x - w, height - y - h, w, h)
    return (y, height - x - w, h, w)
