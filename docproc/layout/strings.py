"""With no template: the page's digit strings, found where they are, in reading order."""

from __future__ import annotations

import cv2
import numpy as np

from docproc.glyphs.binarize import binarize_on_paper
from docproc.glyphs.rules import RULE_INK, remove_rules
from docproc.layout.field_image import FieldImage


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


# A printed rule on the page is at least this many times as long as the writing is tall.
# A pen stroke is not: the foot of a 2 or the bar of a 7 is about as long as the digit is
# tall, and on a tight crop of one field (a cheque's amount, cut from its scan) the
# page-sized minimum alone took such strokes, and the curves of zeros they met, for rules.
RULE_OVER_WRITING = 2.5
# A frame's side is taller than the writing it holds; a 1 is not, by much.
SIDE_OVER_WRITING = 1.3


def writing_height(mask: np.ndarray) -> float:
    """The height of the writing: the median height of the components of ``mask`` that
    are at least 0.35 of the tall ones (specks and dots left out); 0 without any."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    heights = [int(stats[i, 3]) for i in range(1, count) if stats[i, 4] >= 12]
    if not heights:
        return 0.0
    tallest = float(np.percentile(heights, 90))
    return float(np.median([h for h in heights if h >= 0.35 * tallest]))


def find_strings(grey: np.ndarray) -> list[FieldImage]:
    """With no template: the page's digit strings in reading order, named digits-1, ...

    Ink (without printed rules) is grouped into strings of similar height that sit on a
    shared line with gaps smaller than a digit; lines are read top to bottom, strings
    left to right.
    """
    height, width = grey.shape
    ink, mask, paper = binarize_on_paper(grey)
    writing = writing_height(mask)
    mask, rules = remove_rules(mask, min_horizontal=max(30, width // 6, int(RULE_OVER_WRITING * writing)),
                               min_vertical=max(30, height // 3, int(SIDE_OVER_WRITING * writing)), faint=ink > RULE_INK)
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
