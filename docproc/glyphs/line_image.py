"""From a field image to the sequence reader's input: the field's writing as one line of
ink at a fixed height and its own width.

The same cleaning as segmentation (docproc.glyphs.segment.writing): ink measured
against the local paper, printed rules taken out, specks and slivers of frame dropped.
What is left is cropped to its ink and scaled, aspect kept, so the writing fills
INK_HEIGHT of HEIGHT rows. Training (training/sequence_fields.py) makes its inputs with
this same function, so the reader never sees a field prepared another way.
"""

from __future__ import annotations

import cv2
import numpy as np

from docproc.glyphs.segment import Writing, field_writing

HEIGHT = 32
INK_HEIGHT = 26
MARGIN = 4  # blank columns either side, so a stroke at the edge has columns around it
# The sequence model pools width by this factor: each output column covers this many input columns.
WIDTH_STEP = 4
MIN_WIDTH = 16
# Wider writing is squeezed to this width: a dozen digits and their separators fit in
# about a third of it.
MAX_WIDTH = 1024


def line_image(grey: np.ndarray, found: Writing | None = None) -> np.ndarray:
    """A field image (grey, ink dark on paper) as the sequence reader's input: (HEIGHT, W)
    float32 in [0, 1], ink high, W at least MIN_WIDTH and a multiple of WIDTH_STEP. A
    field without writing is a blank line of MIN_WIDTH. ``found``: the field's writing,
    when the caller has it already (docproc.glyphs.segment.field_writing)."""
    found = field_writing(grey) if found is None else found
    comps = found.comps
    if not comps:
        return np.zeros((HEIGHT, MIN_WIDTH), np.float32)
    x0, y0 = min(c.x for c in comps), min(c.y for c in comps)
    x1, y1 = max(c.x + c.w for c in comps), max(c.y + c.h for c in comps)
    own = np.isin(found.labels[y0:y1, x0:x1], [c.label for c in comps])
    return fit_line(np.where(own, found.ink[y0:y1, x0:x1], 0.0).astype(np.float32))


def fit_line(ink: np.ndarray) -> np.ndarray:
    """Ink cropped to its writing (float32, ink high) scaled into a line of HEIGHT rows
    (``line_image``'s layout)."""
    height, width = ink.shape
    scale = INK_HEIGHT / max(height, 1)
    out_w = max(1, int(round(width * scale)))
    out_w = min(out_w, MAX_WIDTH - 2 * MARGIN)
    resized = cv2.resize(ink, (out_w, INK_HEIGHT), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    total = max(MIN_WIDTH, out_w + 2 * MARGIN)
    total += -total % WIDTH_STEP
    line = np.zeros((HEIGHT, total), np.float32)
    top, left = (HEIGHT - INK_HEIGHT) // 2, (total - out_w) // 2
    line[top : top + INK_HEIGHT, left : left + out_w] = np.clip(resized, 0.0, 1.0)
    return line
