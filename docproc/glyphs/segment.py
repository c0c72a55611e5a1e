"""From a field image to digit glyphs: binarize, remove printed rules, find and fix components.

All sizes are relative to the field's height or the strokes' own size, so the same code
serves a 150 dpi form and a 300 dpi zip-code crop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from docproc.glyphs.binarize import binarize, grow_strokes
from docproc.glyphs.cuts import CUT_SLANTS, cut_at, cuts_along
from docproc.glyphs.rules import RULE_INK, divider_columns, remove_rules


@dataclass(frozen=True)
class Glyph:
    """One digit candidate: its box (x, y, w, h) in field pixels, its ink (float32, ink
    high, only this glyph's pixels), and alternative readings: 2 or 3 pieces when it may
    be touching digits, or 1 piece, the glyph with a fragment beside it (a detached bar)."""

    box: tuple[int, int, int, int]
    ink: np.ndarray
    splits: tuple[tuple[np.ndarray, ...], ...] = ()
    # This glyph and the next one as one digit (their ink over both boxes), when they may
    # be the parted pieces of one digit; None otherwise.
    joined: np.ndarray | None = None



@dataclass(frozen=True)
class Component:
    """A connected piece of ink: its box, its pixel count, and its label in the label image."""

    x: int
    y: int
    w: int
    h: int
    area: int
    label: int


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[Component]]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    comps = [
        Component(int(stats[i, 0]), int(stats[i, 1]), int(stats[i, 2]), int(stats[i, 3]), int(stats[i, 4]), i)
        for i in range(1, count)
    ]
    return labels, comps


def _merge_groups(comps: list[Component]) -> list[list[Component]]:
    """Group components that overlap horizontally: the broken pieces of one digit, or a
    digit's detached bar, stack above each other rather than side by side."""
    groups: list[list[Component]] = []
    for comp in sorted(comps, key=lambda c: (c.x, c.y)):
        for group in groups:
            gx0 = min(c.x for c in group)
            gx1 = max(c.x + c.w for c in group)
            overlap = min(gx1, comp.x + comp.w) - max(gx0, comp.x)
            if overlap > 0.5 * min(comp.w, gx1 - gx0):
                group.append(comp)
                break
        else:
            groups.append([comp])
    return groups



def _frame_residue(c: Component, shape: tuple[int, ...]) -> bool:
    """A thin sliver lying against the field's edge: what is left of a frame side or top
    line that rule removal missed. Writing sits inside its field, not along its border."""
    height, width = shape[:2]
    at_side = c.x <= 1 or c.x + c.w >= width - 1
    at_end = c.y <= 1 or c.y + c.h >= height - 1
    return (at_side and c.w <= 0.25 * c.h) or (at_end and c.h <= 0.25 * c.w)


# Ink shorter than this share of the tallest glyph is a fragment (a tick, a rule end, a
# digit's detached bar), never a glyph of its own.
SMALL_GLYPH = 0.3

# Neighbours at most this far apart (relative to the tallest glyph), and together at most
# this much wider than tall, may be one digit whose strokes parted.
JOIN_GAP = 0.3
JOIN_ASPECT = 1.3


def _with_fragments(glyphs: list[Glyph], fragments: list[list[Component]], labels: np.ndarray,
                    ink: np.ndarray, tallest: int) -> list[Glyph]:
    """Each glyph with a fragment close beside it (the bar of a 5 or a 7 that the pen
    lifted from, a stroke end cut off by rule removal) gets one more whole reading: the
    glyph with its fragments. The decoder keeps whichever reads better as one digit."""
    near: dict[int, list[Component]] = {}
    for group in fragments:
        fx0, fx1 = min(c.x for c in group), max(c.x + c.w for c in group)
        fy0, fy1 = min(c.y for c in group), max(c.y + c.h for c in group)
        gaps = []
        for index, glyph in enumerate(glyphs):
            x, y, w, h = glyph.box
            across = max(x - fx1, fx0 - (x + w), 0)
            up_down = max(y - fy1, fy0 - (y + h), 0)
            if across <= JOIN_GAP * tallest and up_down <= JOIN_GAP * tallest:
                gaps.append((across + up_down, index))
        if gaps:
            near.setdefault(min(gaps)[1], []).extend(group)
    out = []
    for index, glyph in enumerate(glyphs):
        if index not in near:
            out.append(glyph)
            continue
        x, y, w, h = glyph.box
        pieces = near[index]
        x0, y0 = min([x] + [c.x for c in pieces]), min([y] + [c.y for c in pieces])
        x1 = max([x + w] + [c.x + c.w for c in pieces])
        y1 = max([y + h] + [c.y + c.h for c in pieces])
        whole = np.zeros((y1 - y0, x1 - x0), np.float32)
        whole[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = glyph.ink
        own = np.isin(labels[y0:y1, x0:x1], [c.label for c in pieces])
        whole = np.where(own, ink[y0:y1, x0:x1], whole).astype(np.float32)
        out.append(replace(glyph, splits=glyph.splits + ((whole,),)))
    return out


def _joined(left: Glyph, right: Glyph, tallest: int, dividers: list[int]) -> np.ndarray | None:
    """The two glyphs' ink as one crop over both boxes, if they may be one digit: close
    together, digit-shaped together, and not in two cells of a comb."""
    lx, ly, lw, lh = left.box
    rx, ry, rw, rh = right.box
    x0, y0 = min(lx, rx), min(ly, ry)
    x1, y1 = max(lx + lw, rx + rw), max(ly + lh, ry + rh)
    if rx - (lx + lw) > JOIN_GAP * tallest or any(lx + lw / 2 < d < rx + rw / 2 for d in dividers):
        return None
    # In a comb, two glyphs in one cell are one digit's pieces whatever their shape.
    same_cell = len(dividers) >= 3 and dividers[0] < lx + lw / 2 and rx + rw / 2 < dividers[-1]
    if not same_cell and x1 - x0 > JOIN_ASPECT * (y1 - y0):
        return None
    ink = np.zeros((y1 - y0, x1 - x0), np.float32)
    for (x, y, w, h), own in ((left.box, left.ink), (right.box, right.ink)):
        np.maximum(ink[y - y0 : y - y0 + h, x - x0 : x - x0 + w], own, out=ink[y - y0 : y - y0 + h, x - x0 : x - x0 + w])
    return ink


CROSSES_EDGE = ("ink crosses the edge of the field's box: digits may be cut off, or the box is not where the "
                "field is written; check it with `docproc template check T.yaml --overlay SCAN`")


@dataclass(frozen=True)
class FieldGlyphs:
    """A field's digit candidates (``find_glyphs``), and whether writing crosses the edge
    of its image: ink that is neither a speck nor a sliver of frame touches the border,
    so the field's box cuts through writing."""

    glyphs: list[Glyph]
    crosses_edge: bool = False


def find_glyphs(grey: np.ndarray) -> list[Glyph]:
    """The digit candidates of one field image (ink dark on paper), left to right.

    Rules are removed, specks and slivers dropped (relative to the tallest ink), broken
    pieces merged, and blobs wide enough to be two or three touching digits get split
    alternatives for the decoder to weigh against the whole.
    """
    return segment_field(grey).glyphs


@dataclass(frozen=True)
class Writing:
    """A field's writing, as segmentation and the sequence reader's line both start from
    it: the ink strength, the comb dividers, the label image of the stroke mask and the
    components that are writing (``writing_components``), and the tallest ink's height."""

    ink: np.ndarray
    dividers: list[int]
    labels: np.ndarray
    comps: list[Component]
    tallest: int


def field_writing(grey: np.ndarray) -> Writing:
    """A field image's writing (no components when the image is under 8 pixels a side)."""
    if grey.size == 0 or min(grey.shape[:2]) < 8:
        empty = np.zeros(grey.shape[:2], np.float32)
        return Writing(empty, [], empty.astype(np.int32), [], 0)
    ink, mask, dividers = writing(grey)
    labels, comps, tallest = writing_components(mask)
    return Writing(ink, dividers, labels, comps, tallest)


def segment_field(grey: np.ndarray, found: Writing | None = None) -> FieldGlyphs:
    """A field image's glyphs (``find_glyphs``) and whether its writing crosses its edge;
    ``found``: its writing, when the caller has it already (``field_writing``)."""
    height = grey.shape[0]
    found = field_writing(grey) if found is None else found
    if not found.comps:
        return FieldGlyphs([])
    ink, dividers, labels, comps, tallest = found.ink, found.dividers, found.labels, found.comps, found.tallest
    # Three or more dividers make a comb (a frame has two sides); its cell is their spacing.
    cell = float(np.median(np.diff(dividers))) if len(dividers) >= 3 else 0.0
    crosses_edge = any(c.x == 0 or c.y == 0 or c.x + c.w == grey.shape[1] or c.y + c.h == height for c in comps)
    glyphs: list[Glyph] = []
    fragments: list[list[Component]] = []
    for group in _merge_groups(comps):
        x0 = min(c.x for c in group)
        y0 = min(c.y for c in group)
        x1 = max(c.x + c.w for c in group)
        y1 = max(c.y + c.h for c in group)
        if max(c.h for c in group) < 0.25 * tallest or (y1 - y0) < SMALL_GLYPH * tallest:
            fragments.append(group)  # a stray tick, a rule end, or a digit's detached bar
            continue
        own = np.isin(labels[y0:y1, x0:x1], [c.label for c in group])
        crop = np.where(own, ink[y0:y1, x0:x1], 0.0).astype(np.float32)
        splits = _cut_alternatives(crop, x0, dividers, cell)
        glyphs.append(Glyph(box=(x0, y0, x1 - x0, y1 - y0), ink=crop, splits=splits))
    glyphs = _with_fragments(glyphs, fragments, labels, ink, tallest)
    # Groups are formed by overlap, so the pieces of a digit that parted side by side (a 4
    # broken at its crossing, a 5 and its bar) are separate glyphs: offer them joined.
    return FieldGlyphs([
        replace(glyph, joined=_joined(glyph, glyphs[i + 1], tallest, dividers)) if i + 1 < len(glyphs) else glyph
        for i, glyph in enumerate(glyphs)
    ], crosses_edge)


def writing_components(mask: np.ndarray) -> tuple[np.ndarray, list[Component], int]:
    """The connected components of a field's stroke mask that are writing (specks, and
    slivers of frame along the edge, dropped; sizes relative to the tallest ink), their
    label image, and the tallest ink's height (0 when there is none)."""
    labels, comps = _components(mask)
    sized = [c.h for c in comps if c.area >= 4]
    tallest = max(sized) if sized else 0
    if tallest == 0:
        return labels, [], 0
    # Specks and rule fragments: much shorter than the writing, or tiny.
    min_area = max(6, int((tallest * 0.08) ** 2))
    return labels, [c for c in comps if c.area >= min_area and not _frame_residue(c, mask.shape)], tallest


def writing(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """A field's ink strength, its mask of pen strokes without the printed rules, and the
    x positions of its comb dividers."""
    height = grey.shape[0]
    ink, mask = binarize(grey)
    mask = grow_strokes(ink, mask)
    mask, rules = remove_rules(mask, min_horizontal=max(12, int(height * 1.2)), min_vertical=max(10, int(height * 0.55)),
                               faint=ink > RULE_INK, one_field=True)
    return ink, mask, divider_columns(rules, height)


def _cut_alternatives(crop: np.ndarray, x0: int, dividers: list[int], cell: float) -> tuple[tuple[np.ndarray, ...], ...]:
    """The ways to cut a glyph (its ink ``crop``, whose left edge is at ``x0`` in the field)
    into touching digits: at the comb dividers it crosses, or else, when it is wide enough
    for two or three digits, along the emptiest lines."""
    tall, width = crop.shape
    splits = []
    # A glyph across comb dividers is digits written into neighbouring cells whose
    # strokes cross the dividers: cut at each divider, one digit a cell.
    inside = [c - x0 for c in dividers if x0 + 0.15 * width < c < x0 + width - 0.15 * width]
    if inside:
        parts = cut_at(crop, inside)
        if parts is not None:
            splits.append(parts)
    # Where a divider says where to cut, guessing cuts from the ink profile only adds
    # ways to be wrong; so does cutting a glyph that fits in one comb cell.
    if not splits and width > 1.3 * cell:
        for pieces in (2, 3):
            if width > (0.35 + 0.45 * (pieces - 1)) * tall:
                # Three touching digits are rare; upright cuts alone keep the crop count down.
                for slant in CUT_SLANTS if pieces == 2 else (0.0,):
                    splits.extend(cuts_along(crop, pieces, slant))
    return tuple(splits)
