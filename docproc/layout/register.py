"""A template's fields on a page: deskewed, then the boxes shifted to where the fields are."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docproc.glyphs.binarize import binarize
from docproc.layout.deskew import estimate_skew
from docproc.layout.field_image import FieldImage
from docproc.layout.reference import align_to_reference, aligned_box
from docproc.layout.templates import FieldSpec, Template

MAX_SHIFT = 0.03  # of the page's width / height: scans are shifted by up to 2%
# A field more than this share of whose box lies off the scanned paper may have lost
# digits there (a corner turned out of a sheet feeder's scan, a page cut short).
MISSING_SHARE = 0.02
OFF_THE_SCAN = "part of the field's box lies off the scanned paper: digits may be missing; rescan the page whole"
MOVED_FAR = ("the template's boxes had to move as far as registration allows (3% of the page): the page may be "
             "cut, scaled or laid out otherwise; check it with `docproc template check T.yaml --overlay SCAN`")
EDGE_WEIGHT = 4.0


def box_pixels(spec: FieldSpec, width: int, height: int) -> tuple[int, int, int, int]:
    """A template box in pixels (x0, y0, x1, y1) of a page ``width`` by ``height``."""
    left, top, right, bottom = spec.box
    return int(round(left * width)), int(round(top * height)), int(round(right * width)), int(round(bottom * height))


def _shift_search(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The registration search on a page of ``shape`` (height, width): the largest shift
    each way (x, y) and the step between candidate shifts, in pixels."""
    height, width = shape[:2]
    max_dx, max_dy = int(width * MAX_SHIFT), int(height * MAX_SHIFT)
    return max_dx, max_dy, max(1, min(max_dx, max_dy) // 20)


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
    max_dx, max_dy, step = _shift_search(mask.shape)
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


def at_shift_limit(shift: tuple[int, int], shape: tuple[int, int]) -> bool:
    """Whether a registration shift found on a page of ``shape`` (height, width) lies at the
    edge of the search (within one of its steps), so the boxes may belong further still."""
    max_dx, max_dy, step = _shift_search(shape)
    return abs(shift[0]) >= max_dx - step or abs(shift[1]) >= max_dy - step


def box_ink_ratio(mask: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> float:
    """The ink density inside ``boxes`` (x0, y0, x1, y1; clipped to the page) over the
    page's: how much more of the writing and furniture the boxes hold than paper does."""
    height, width = mask.shape
    page_density = float(mask.mean()) if mask.size else 0.0
    ink = area = 0
    for x0, y0, x1, y1 in boxes:
        x0, x1 = np.clip([x0, x1], 0, width)
        y0, y1 = np.clip([y0, y1], 0, height)
        ink += int(mask[y0:y1, x0:x1].sum())
        area += int(max(0, x1 - x0) * max(0, y1 - y0))
    if page_density == 0.0 or area == 0:
        return 0.0
    return (ink / area) / page_density


@dataclass(frozen=True)
class Registration:
    """A template's fields cut from a page (boxes in the page's pixels), the skew angle
    and the shift found, the ink ratio of the placed boxes (``box_ink_ratio``), and, for
    a template with a reference form, how well the page correlates with it once aligned
    (reference.Alignment; 0 where it could not be aligned, None without a reference)."""

    fields: list[FieldImage]
    angle: float
    shift: tuple[int, int]
    fit: float
    correlation: float | None = None


def _scanned_share(box: tuple[int, int, int, int], straight_paper: np.ndarray | None, inverse: np.ndarray,
                   shape: tuple[int, int]) -> float:
    """The share of a box (x0, y0, x1, y1) on the straightened page that was scanned: on
    the paper (``straight_paper``) where there is a mask of it, else inside the scan as
    stored (judged on a grid of points mapped back through ``inverse``)."""
    height, width = shape
    x0, y0, x1, y1 = box
    area = max(1, (x1 - x0) * (y1 - y0))
    if straight_paper is not None:
        cx0, cx1 = np.clip([x0, x1], 0, width)
        cy0, cy1 = np.clip([y0, y1], 0, height)
        return int(straight_paper[cy0:cy1, cx0:cx1].sum()) / area
    # The centres of a 100 x 100 grid of cells: a share to the nearest 1%, finer than
    # MISSING_SHARE, where a grid's corners would count its edge points as whole cells.
    steps = (np.arange(100) + 0.5) / 100
    xs, ys = np.meshgrid(x0 + steps * (x1 - x0), y0 + steps * (y1 - y0))
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1) @ inverse.T
    inside = (points[:, 0] >= 0) & (points[:, 0] <= width) & (points[:, 1] >= 0) & (points[:, 1] <= height)
    return float(inside.mean())


def template_fields(grey: np.ndarray, template: Template, paper: np.ndarray | None = None) -> Registration:
    """Crop each template field from the page after deskew and registration.

    ``paper``: which pixels of ``grey`` are paper (None: all). The template's boxes are
    fractions of the paper once it is straight: of its box, where a tilted page left bed
    in the corners of the scan's.

    With a reference form, the boxes are first carried to where the page's paper
    aligns with the form's (layout/reference.py: a copy reduced in size, a form printed
    off its place), and registration shifts them from there.

    Returns the fields (boxes in original page pixels, clipped to it; a field whose box
    runs off the scanned paper is in doubt), the skew angle, the shift found, how much
    ink the placed boxes hold and how well the page correlates with its reference form
    (``Registration``).
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
    left, top, paper_width, paper_height = 0, 0, width, height
    # Which pixels of the straightened page were scanned paper (None: all the scan's).
    straight_paper: np.ndarray | None = None
    if paper is not None:
        straight_paper = paper if abs(angle) < 0.05 else cv2.warpAffine(
            paper.astype(np.uint8), rotation, (width, height), flags=cv2.INTER_NEAREST).astype(bool)
        rows, columns = np.flatnonzero(straight_paper.any(axis=1)), np.flatnonzero(straight_paper.any(axis=0))
        if rows.size and columns.size:
            left, top = int(columns[0]), int(rows[0])
            paper_width, paper_height = int(columns[-1]) + 1 - left, int(rows[-1]) + 1 - top
    paper_boxes = [box_pixels(spec, paper_width, paper_height) for spec in template.fields]
    correlation = None
    if template.reference is not None:
        alignment = align_to_reference(straight_mask[top : top + paper_height, left : left + paper_width],
                                       template.reference)
        correlation = 0.0 if alignment is None else alignment.correlation
        if alignment is not None:
            paper_boxes = [aligned_box(box, alignment.warp) for box in paper_boxes]
    boxes = [(x0 + left, y0 + top, x1 + left, y1 + top) for x0, y0, x1, y1 in paper_boxes]
    dx, dy = register_shift(straight_mask, boxes)
    placed_boxes = [(x0 + dx, y0 + dy, x1 + dx, y1 + dy) for x0, y0, x1, y1 in boxes]
    inverse = cv2.invertAffineTransform(rotation)
    fields = []
    for spec, placed in zip(template.fields, placed_boxes):
        scanned_share = _scanned_share(placed, straight_paper, inverse, (height, width))
        x0, x1 = np.clip([placed[0], placed[2]], 0, width)
        y0, y1 = np.clip([placed[1], placed[3]], 0, height)
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ inverse.T
        ox0, oy0 = np.floor(corners.min(axis=0)).astype(int)
        ox1, oy1 = np.ceil(corners.max(axis=0)).astype(int)
        ox0, oy0, ox1, oy1 = max(0, ox0), max(0, oy0), min(width, ox1), min(height, oy1)
        # A copy, not a view: a view would keep the whole page alive while the field waits
        # for its batch to be classified.
        fields.append(FieldImage(spec.name, straight[y0:y1, x0:x1].copy(),
                                 (int(ox0), int(oy0), int(ox1 - ox0), int(oy1 - oy0)), spec,
                                 OFF_THE_SCAN if scanned_share < 1.0 - MISSING_SHARE else ""))
    # Optional fields may be blank by design: whether the page fits is judged by the fields
    # that must be written, where the template has any.
    required = [box for spec, box in zip(template.fields, placed_boxes) if not spec.optional] or placed_boxes
    return Registration(fields, angle, (dx, dy), box_ink_ratio(straight_mask, required), correlation)
