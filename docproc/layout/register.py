"""A template's fields on a page: deskewed, then the boxes shifted to where the fields are."""

from __future__ import annotations

import cv2
import numpy as np

from docproc.glyphs.binarize import binarize
from docproc.layout.deskew import estimate_skew
from docproc.layout.field_image import FieldImage
from docproc.layout.templates import FieldSpec, Template

MAX_SHIFT = 0.03  # of the page's width / height: scans are shifted by up to 2%
EDGE_WEIGHT = 4.0


def _box_pixels(spec: FieldSpec, width: int, height: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = spec.box
    return int(round(left * width)), int(round(top * height)), int(round(right * width)), int(round(bottom * height))


def register_shift(mask: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """The (dx, dy) that places the template boxes where no box edge cuts through ink.

    A box drawn around a field (its frame, comb or underline and the writing) can move
    freely while it still encloses them; once it is off, its edges cut the frame and the
    digits, and on blank paper it encloses nothing. Each candidate shift is scored by the
    ink the boxes enclose and, heavily weighted, the ink on their edge bands (summed with
    an integral image); the answer is the centre of the best-scoring shifts, so a box
    with generous margins lands centred on its field.
    """
    height, width = mask.shape
    integral = cv2.integral(mask.astype(np.uint8))
    max_dx, max_dy = int(width * MAX_SHIFT), int(height * MAX_SHIFT)
    step = max(1, min(max_dx, max_dy) // 20)
    dxs = np.arange(-max_dx, max_dx + 1, step)
    dys = np.arange(-max_dy, max_dy + 1, step)

    def box_sum(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
        x0, x1 = np.clip(x0, 0, width), np.clip(x1, 0, width)
        y0, y1 = np.clip(y0, 0, height), np.clip(y1, 0, height)
        return (integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]).astype(np.float64)

    gx, gy = np.meshgrid(dxs, dys)
    cost = np.zeros(gx.shape, np.float64)
    for x0, y0, x1, y1 in boxes:
        band = max(2, min(x1 - x0, y1 - y0) // 25)
        outer = box_sum(gx + x0, gy + y0, gx + x1, gy + y1)
        inner = box_sum(gx + x0 + band, gy + y0 + band, gx + x1 - band, gy + y1 - band)
        # Cutting ink is far worse than enclosing it is good: a box should hold all of its
        # field, not a bit more of it at the price of a cut frame.
        cost += EDGE_WEIGHT * (outer - inner) - inner
    best = cost.min()
    near = cost <= best + max(1.0, 0.01 * abs(best))
    return int(round(float(np.median(gx[near])))), int(round(float(np.median(gy[near]))))


def template_fields(grey: np.ndarray, template: Template) -> tuple[list[FieldImage], float, tuple[int, int]]:
    """Crop each template field from the page after deskew and registration.

    Returns the fields (boxes in original page pixels), the skew angle and the shift found.
    """
    height, width = grey.shape
    _, mask = binarize(grey)
    angle = estimate_skew(mask)
    centre = (width / 2.0, height / 2.0)
    rotation = cv2.getRotationMatrix2D(centre, -angle, 1.0)
    if abs(angle) >= 0.05:
        straight = cv2.warpAffine(grey, rotation, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        straight_mask = cv2.warpAffine(mask.astype(np.uint8), rotation, (width, height), flags=cv2.INTER_NEAREST).astype(bool)
    else:
        straight, straight_mask = grey, mask
    boxes = [_box_pixels(spec, width, height) for spec in template.fields]
    dx, dy = register_shift(straight_mask, boxes)
    inverse = cv2.invertAffineTransform(rotation)
    fields = []
    for spec, (x0, y0, x1, y1) in zip(template.fields, boxes):
        x0, x1 = np.clip([x0 + dx, x1 + dx], 0, width)
        y0, y1 = np.clip([y0 + dy, y1 + dy], 0, height)
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ inverse.T
        ox0, oy0 = np.floor(corners.min(axis=0)).astype(int)
        ox1, oy1 = np.ceil(corners.max(axis=0)).astype(int)
        # A copy, not a view: a view would keep the whole page alive while the field waits
        # for its batch to be classified.
        fields.append(FieldImage(spec.name, straight[y0:y1, x0:x1].copy(),
                                 (int(ox0), int(oy0), int(ox1 - ox0), int(oy1 - oy0)), spec))
    return fields, angle, (dx, dy)
