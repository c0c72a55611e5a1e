"""Where the fields are on a page: template boxes after deskew and registration, or, with
no template, the digit strings found on the page in reading order."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docproc.segment import RULE_INK, binarize, binarize_on_paper, remove_rules
from docproc.templates import FieldSpec, Template

MAX_SKEW_DEG = 3.0
MAX_SHIFT = 0.03  # of the page's width / height: scans are shifted by up to 2%
EDGE_WEIGHT = 4.0


@dataclass(frozen=True)
class FieldImage:
    """One field to read: its name, the grey crop (ink dark), its box (x, y, w, h) on the
    original page in pixels, and its spec when a template defined it."""

    name: str
    image: np.ndarray
    box: tuple[int, int, int, int]
    spec: FieldSpec | None = None


def estimate_skew(mask: np.ndarray) -> float:
    """The page's tilt in degrees (counter-clockwise positive), from the angle that makes
    ink rows sharpest: printed rules and lines of writing are horizontal on the form."""
    height, width = mask.shape
    scale = min(1.0, 800.0 / max(width, 1))
    # Columns are pooled twice as hard as rows: the angle's precision comes from the
    # rows (where ink lands) over the page's width, not from how many columns there are,
    # and half the pixels make the search about 40% faster for the same angles.
    column_scale = scale / 2.0
    ink = (mask if mask.dtype == bool else mask.astype(bool)).view(np.uint8) * np.uint8(255)
    small = cv2.resize(ink,
                       (max(1, int(width * column_scale)), max(1, int(height * scale))), interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(small)
    if ys.size == 0:
        return 0.0
    weights = small[ys, xs].astype(np.float64)
    # Column centres, in row units, so that tan(angle) turns them into row offsets.
    offset_x = (xs + 0.5 - small.shape[1] / 2.0) * (scale / column_scale)
    # For angles this small a rotation moves each pixel's row by (x - cx) * tan(angle):
    # re-binning the ink pixels' rows is the projection profile, without rotating the image.
    margin = int(np.ceil(width * scale * np.tan(np.radians(MAX_SKEW_DEG + 0.5)))) + 1

    def sharpness(angle: float) -> float:
        position = ys + offset_x * np.tan(np.radians(angle)) + margin
        row = np.floor(position).astype(np.int64)
        upper = position - row  # split each pixel between its two rows: sub-pixel precision
        size = small.shape[0] + 2 * margin + 1
        profile = (np.bincount(row, weights=weights * (1 - upper), minlength=size)
                   + np.bincount(row + 1, weights=weights * upper, minlength=size))
        return float(np.square(np.diff(profile)).sum())

    best = max(np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 1e-9, 0.25), key=sharpness)
    # The fine search stays inside the range: a page is never turned further than it allows.
    fine = max(np.arange(max(-MAX_SKEW_DEG, best - 0.25), min(MAX_SKEW_DEG, best + 0.25) + 1e-9, 0.05), key=sharpness)
    return float(round(fine, 2))


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


def _belong_together(a: list[int], b: list[int]) -> bool:
    """Two boxes (x0, y0, x1, y1) are one string: they share a line (vertical overlap) and
    the horizontal gap between them is under a digit's height."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    gap = max(a[0], b[0]) - min(a[2], b[2])
    height = max(a[3] - a[1], b[3] - b[1])
    return overlap > 0.4 * min(a[3] - a[1], b[3] - b[1]) and gap < 1.2 * height


def _group_strings(boxes: list[list[int]]) -> list[list[int]]:
    """Merge boxes into strings until no two strings belong together (a string that grew
    can reach one that was too far before)."""
    strings = sorted(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(strings)):
            for j in range(i + 1, len(strings)):
                if _belong_together(strings[i], strings[j]):
                    a, b = strings[i], strings.pop(j)
                    strings[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    merged = True
                    break
            if merged:
                break
    return strings


def find_strings(grey: np.ndarray) -> list[FieldImage]:
    """With no template: the page's digit strings in reading order, named digits-1, ...

    Ink (without printed rules) is grouped into strings of similar height that sit on a
    shared line with gaps smaller than a digit; lines are read top to bottom, strings
    left to right.
    """
    height, width = grey.shape
    ink, mask, paper = binarize_on_paper(grey)
    mask, rules = remove_rules(mask, min_horizontal=max(30, width // 6), min_vertical=max(30, height // 3),
                               faint=ink > RULE_INK)
    # Rules are judged on the whole page, where a frame is whole; in a string's crop a
    # frame side is a lone upright stroke, much like a 1. So the crops go out without them.
    grey = np.where(rules & ~mask, paper, grey).astype(grey.dtype)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    comps = [tuple(int(v) for v in stats[i, :4]) for i in range(1, count) if stats[i, 4] >= 12]
    if not comps:
        return []
    tallest = np.percentile([h for _, _, _, h in comps], 90)
    comps = [c for c in comps if c[3] >= 0.35 * tallest]
    strings = _group_strings([[x, y, x + w, y + h] for x, y, w, h in comps])
    # Reading order: strings whose vertical centres are within half a height share a line.
    strings.sort(key=lambda s: (s[1] + s[3]) / 2)
    lines: list[list[list[int]]] = []
    for s in strings:
        centre = (s[1] + s[3]) / 2
        if lines and abs(centre - np.mean([(t[1] + t[3]) / 2 for t in lines[-1]])) < 0.5 * (s[3] - s[1]):
            lines[-1].append(s)
        else:
            lines.append([s])
    ordered = [s for line in lines for s in sorted(line, key=lambda t: t[0])]
    fields = []
    for number, (x0, y0, x1, y1) in enumerate(ordered, start=1):
        pad = max(4, (y1 - y0) // 4)
        bx0, by0 = max(0, x0 - pad), max(0, y0 - pad)
        bx1, by1 = min(width, x1 + pad), min(height, y1 + pad)
        fields.append(FieldImage(f"digits-{number}", grey[by0:by1, bx0:bx1].copy(), (bx0, by0, bx1 - bx0, by1 - by0)))
    return fields
