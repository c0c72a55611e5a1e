"""From a field image to digit glyphs: binarize, remove printed rules, find and fix components.

All sizes are relative to the field's height or the strokes' own size, so the same code
serves a 150 dpi form and a 300 dpi zip-code crop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import cv2
import numpy as np


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


RULE_INK = 0.2  # thin printed rules come out faint (~0.3); security tints stay under ~0.18


def remove_rules(mask: np.ndarray, min_horizontal: int, min_vertical: int,
                 faint: np.ndarray | None = None, one_field: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Remove printed horizontal and vertical rules (frames, underlines, comb dividers).

    Rules are runs at least ``min_horizontal`` / ``min_vertical`` long. Pixels of a rule
    that a pen stroke crosses (ink on both sides of the rule) are put back, so digits
    that touch a frame keep their strokes. ``faint``, a mask at a lower ink threshold,
    is where rules are looked for (defaults to ``mask``). ``one_field``: the image is one
    field, so a horizontal run must span it and a vertical run inside its frame must fit
    the frame's layout to count as printed (see ``_field_rules``, ``_printed_verticals``).
    Returns (mask without rules, rule mask).
    """
    m = (mask if faint is None else (mask | faint)).astype(np.uint8)
    # Thin printed rules, blurred by the scan, binarize into dashes: bridge short gaps
    # along each direction before looking for long runs.
    horizontal = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((1, 5), np.uint8)),
                                  cv2.MORPH_OPEN, np.ones((1, max(2, min_horizontal)), np.uint8))
    vertical = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((5, 1), np.uint8)),
                                cv2.MORPH_OPEN, np.ones((max(2, min_vertical), 1), np.uint8))
    if one_field:
        horizontal = _field_rules(horizontal)
    # A vertical run counts as printed only where it meets a horizontal rule (a frame
    # side, a comb divider): an upright handwritten 1 is as tall and straight, but free.
    # Both ends must meet one: a tall 1 resting on an underline or frame bottom is free
    # at its top.
    count, vlabels, vstats, _ = cv2.connectedComponentsWithStats(vertical, connectivity=8)
    if count > 1:
        near_h = cv2.dilate(horizontal, np.ones((7, 7), np.uint8)).astype(bool)
        # The image's own top and bottom edges count too: a frame cut by the edge of a
        # tight crop has lost its top or bottom line there.
        near_h[:2] = near_h[-2:] = True
        # An end is its last rows, a sixth of the run at least: a faint security stripe
        # that meets a frame side can carry the run on a few pixels past the corner.
        attached = []
        for i in range(1, count):
            x, y, w, h = (int(v) for v in vstats[i, :4])
            end = max(3, h // 6)
            if near_h[y : y + end, x : x + w].any() and near_h[y + h - end : y + h, x : x + w].any():
                attached.append(i)
        if one_field:
            attached = _printed_verticals(m, horizontal, vstats, attached)
        printed = np.zeros(count, np.uint8)
        printed[attached] = 1
        vertical = printed[vlabels]
    # Anti-aliased rule edges sit one pixel outside the opened run.
    horizontal = cv2.dilate(horizontal, np.ones((3, 1), np.uint8)) & m
    vertical = cv2.dilate(vertical, np.ones((1, 3), np.uint8)) & m
    rules = (horizontal | vertical).astype(bool)
    kept = mask & ~rules
    k = kept.astype(np.uint8)
    reach = 9
    across_h = cv2.morphologyEx(k, cv2.MORPH_CLOSE, np.ones((reach, 1), np.uint8)).astype(bool)
    across_v = cv2.morphologyEx(k, cv2.MORPH_CLOSE, np.ones((1, reach), np.uint8)).astype(bool)
    kept |= (horizontal.astype(bool) & across_h) | (vertical.astype(bool) & across_v)
    return kept, rules


# In one field, a horizontal run shorter than this share of the longest is no rule.
FIELD_RULE_SHARE = 0.6


def _field_rules(horizontal: np.ndarray) -> np.ndarray:
    """Of one field's horizontal runs, those long enough to be its printed lines.

    A field's printed lines (a frame's top and bottom, a comb's, an underline) span it.
    A shorter run is pen strokes that the closing chained together through a comb's
    dividers: the bars of 7s written in neighbouring cells, each a few pixels from the
    divider between them, make one long run, and removing it as a rule left each 7 a 1.
    """
    # Runs are judged by bands of consecutive rows: cheaper than labelling components,
    # and the same here, where a field's lines lie apart.
    rows = np.flatnonzero(horizontal.any(axis=1))
    if rows.size == 0:
        return horizontal
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    spans = []
    for band in bands:
        columns = np.flatnonzero(horizontal[band[0] : band[-1] + 1].any(axis=0))
        spans.append(columns[-1] - columns[0] + 1)
    longest = max(spans)
    if min(spans) >= FIELD_RULE_SHARE * longest:
        return horizontal
    spanning = horizontal.copy()
    for band, span in zip(bands, spans):
        if span < FIELD_RULE_SHARE * longest:
            spanning[band[0] : band[-1] + 1] = 0
    return spanning


def _longest_gap(m: np.ndarray, x: int, y: int, w: int, h: int) -> int:
    """The most consecutive rows of a vertical run's box with no ink of their own: the
    gaps the run's closing bridged."""
    inked = np.flatnonzero(m[y : y + h, x : x + w].any(axis=1))
    if inked.size == 0:
        return h
    return int(max(inked[0], h - 1 - inked[-1], (np.diff(inked) - 1).max(initial=0)))


# A vertical run within this share of the field height of the rules' ends is a frame side.
SIDE_REACH = 0.1
# Off a comb's grid by more than this share of a cell, a vertical run is a pen stroke.
GRID_SLACK = 0.25


def _printed_verticals(m: np.ndarray, horizontal: np.ndarray, vstats: np.ndarray, attached: list[int]) -> list[int]:
    """Of the vertical runs that meet horizontal rules at both ends (``attached``, labels
    into ``vstats``), those that are printed, in one field's image.

    A tall stroke (the stem of a 4 or a 9) can pass for a rule when it comes within a
    few pixels of a frame's top and bottom lines. Printed verticals are the frame's sides,
    at the rules' ends, and a comb's dividers, on a regular grid. So inside the frame a
    run counts as printed only on the grid of a comb (two or more solid interior runs
    make one), or, in a frame without a comb, only if it is solid: a run whose ink
    breaks for two rows or more joined the frame lines only by the closing.
    """
    columns = np.flatnonzero(horizontal.any(axis=0))
    if columns.size == 0 or not attached:
        return attached
    reach = max(3, int(SIDE_REACH * m.shape[0]))
    centre = {i: vstats[i, 0] + vstats[i, 2] / 2.0 for i in attached}
    sides = [i for i in attached if centre[i] <= columns[0] + reach or centre[i] >= columns[-1] - reach]
    inner = [i for i in attached if i not in sides]
    solid = [i for i in inner if _longest_gap(m, *(int(v) for v in vstats[i, :4])) <= 1]
    if len(solid) < 2:
        return sides + solid
    grid = sorted(centre[i] for i in sides + solid)
    cell = float(np.median(np.diff(grid)))
    if cell <= 0.0:
        return sides + solid
    origin = grid[0]
    on_grid = [i for i in inner if abs((centre[i] - origin) / cell - round((centre[i] - origin) / cell)) <= GRID_SLACK]
    return sides + on_grid


@dataclass(frozen=True)
class _Component:
    x: int
    y: int
    w: int
    h: int
    area: int
    label: int


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[_Component]]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    comps = [
        _Component(int(stats[i, 0]), int(stats[i, 1]), int(stats[i, 2]), int(stats[i, 3]), int(stats[i, 4]), i)
        for i in range(1, count)
    ]
    return labels, comps


def _merge_groups(comps: list[_Component]) -> list[list[_Component]]:
    """Group components that overlap horizontally: the broken pieces of one digit, or a
    digit's detached bar, stack above each other rather than side by side."""
    groups: list[list[_Component]] = []
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


# Slants (horizontal shift per row, relative to the glyph's height) of the lines a wide
# glyph is cut along: handwriting leans, so two touching digits are often parted by a
# slanted line where no upright one exists. The single-digit check judges the pieces.
CUT_SLANTS = (0.0, -0.3, 0.3)


def _column_profile(ink: np.ndarray) -> np.ndarray:
    """Ink pixels per column, smoothed over three columns."""
    profile = (ink > 0).sum(axis=0).astype(np.float32)
    return np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")


# Each upright cut of a blob is tried at up to this many columns: the emptiest column of
# its window (around where an even split would cut), then the emptiest other local
# minima of the ink profile there, each at least CUT_SPACING of the width from the
# columns taken. The emptiest column is often the wrong one (the hollow of a 0 is
# emptier than where the 0 touches a 4); the single-digit check and the decoder judge
# which cut reads as whole digits. On held-out scans of validation digits, 2 columns for
# a two-piece cut made 18 fields right and 3 made 3 more, none wrong; a fourth added
# nothing. Three columns for each cut of a three-piece split made 2 more right on scans
# of training digits, none wrong. Slanted cuts keep one column: more columns there too
# made as many fields right as wrong on the two sets and a third more crops per cheque
# page (35 against 28; 23 with one column everywhere), which cost 13% of the pages per
# second.
COLUMNS_PER_CUT = 3
CUT_SPACING = 0.1


def _cut_candidates(ink: np.ndarray, pieces: int, per_cut: int) -> list[list[int]]:
    """For each of the ``pieces - 1`` cuts of a wide blob, up to ``per_cut`` columns where
    it is most likely two digits touching (see COLUMNS_PER_CUT), best first; [] if the
    blob is too narrow to cut."""
    width = ink.shape[1]
    profile = _column_profile(ink)
    cuts = []
    for k in range(1, pieces):
        centre = width * k // pieces
        low, high = max(1, centre - width // (2 * pieces)), min(width - 1, centre + width // (2 * pieces))
        if high <= low:
            return []
        taken = [low + int(np.argmin(profile[low:high]))]
        minima = [x for x in range(low, high) if profile[x] <= profile[x - 1] and profile[x] <= profile[x + 1]]
        for x in sorted(minima, key=lambda x: (profile[x], x)):
            if len(taken) == per_cut:
                break
            if all(abs(x - t) >= CUT_SPACING * width for t in taken):
                taken.append(x)
        cuts.append(taken)
    return cuts


def _cut_at(ink: np.ndarray, cuts: list[int], slant: float = 0.0) -> tuple[np.ndarray, ...] | None:
    """The pieces of ``ink`` between cut lines through columns ``cuts`` at mid-height,
    leaning ``slant`` columns per row, or None if a piece has no ink."""
    height, width = ink.shape
    if slant == 0.0:
        bounds = [0, *cuts, width]
        parts = tuple(ink[:, a:b] for a, b in zip(bounds, bounds[1:]))
    else:
        # Row y is cut at cut + slant * (mid - y): a positive slant leans right, like
        # forward-leaning writing.
        offsets = slant * (height / 2.0 - np.arange(height, dtype=np.float32))[:, None]
        columns = np.arange(width, dtype=np.float32)[None, :]
        side = sum((columns >= cut + offsets).astype(np.int32) for cut in cuts)
        parts = tuple(np.where(side == k, ink, 0.0).astype(ink.dtype) for k in range(len(cuts) + 1))
    return None if any(not (p > 0).any() for p in parts) else parts


def _split(ink: np.ndarray, pieces: int, slant: float = 0.0) -> list[tuple[np.ndarray, ...]]:
    """``ink`` cut into ``pieces`` along the emptiest lines of the given slant: upright,
    each way its candidate columns allow (see COLUMNS_PER_CUT); slanted, one way."""
    if slant == 0.0:
        sheared = ink
    else:
        # Shear so the slanted lines stand upright; the emptiest columns then mark the cuts.
        height, width = ink.shape
        matrix = np.float32([[1, slant, -slant * height / 2.0], [0, 1, 0]])
        sheared = cv2.warpAffine((ink > 0).astype(np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST)
    columns = _cut_candidates(sheared, pieces, COLUMNS_PER_CUT if slant == 0.0 else 1)
    if len(columns) != pieces - 1:
        return []
    ways = [list(way) for way in itertools.product(*columns) if list(way) == sorted(way)]
    return [parts for parts in (_cut_at(ink, way, slant) for way in ways) if parts is not None]


def _frame_residue(c: _Component, shape: tuple[int, ...]) -> bool:
    """A thin sliver lying against the field's edge: what is left of a frame side or top
    line that rule removal missed. Writing sits inside its field, not along its border."""
    height, width = shape[:2]
    at_side = c.x <= 1 or c.x + c.w >= width - 1
    at_end = c.y <= 1 or c.y + c.h >= height - 1
    return (at_side and c.w <= 0.25 * c.h) or (at_end and c.h <= 0.25 * c.w)


def _divider_columns(rules: np.ndarray, height: int) -> list[int]:
    """x positions of vertical rules (comb dividers) that span most of the field height.

    A pen stroke drawn along a divider can make it two runs of tall columns a few pixels
    apart; once the comb's cell width is known, of runs closer than half a cell only the
    one with the most rule ink is kept, so one divider is never taken for two.
    """
    column_ink = rules.sum(axis=0)
    tall = np.flatnonzero(column_ink > 0.45 * height)
    if tall.size == 0:
        return []
    runs = np.split(tall, np.flatnonzero(np.diff(tall) > 1) + 1)
    dividers = [(int(run.mean()), int(column_ink[run].sum())) for run in runs]
    if len(dividers) >= 3:
        cell = float(np.median(np.diff([x for x, _ in dividers])))
        kept: list[tuple[int, int]] = []
        for x, ink in dividers:
            if kept and x - kept[-1][0] < 0.5 * cell:
                if ink > kept[-1][1]:
                    kept[-1] = (x, ink)
            else:
                kept.append((x, ink))
        dividers = kept
    return [x for x, _ in dividers]


# Neighbours at most this far apart (relative to the tallest glyph), and together at most
# this much wider than tall, may be one digit whose strokes parted.
JOIN_GAP = 0.3
JOIN_ASPECT = 1.3


def _with_fragments(glyphs: list[Glyph], fragments: list[list[_Component]], labels: np.ndarray,
                    ink: np.ndarray, tallest: int) -> list[Glyph]:
    """Each glyph with a fragment close beside it (the bar of a 5 or a 7 that the pen
    lifted from, a stroke end cut off by rule removal) gets one more whole reading: the
    glyph with its fragments. The decoder keeps whichever reads better as one digit."""
    near: dict[int, list[_Component]] = {}
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


def find_glyphs(grey: np.ndarray) -> list[Glyph]:
    """The digit candidates of one field image (ink dark on paper), left to right.

    Rules are removed, specks and slivers dropped (relative to the tallest ink), broken
    pieces merged, and blobs wide enough to be two or three touching digits get split
    alternatives for the decoder to weigh against the whole.
    """
    height = grey.shape[0]
    if grey.size == 0 or height < 8 or grey.shape[1] < 8:
        return []
    ink, mask = binarize(grey)
    mask = grow_strokes(ink, mask)
    mask, rules = remove_rules(mask, min_horizontal=max(12, int(height * 1.2)), min_vertical=max(10, int(height * 0.55)),
                               faint=ink > RULE_INK, one_field=True)
    dividers = _divider_columns(rules, height)
    # Three or more dividers make a comb (a frame has two sides); its cell is their spacing.
    cell = float(np.median(np.diff(dividers))) if len(dividers) >= 3 else 0.0
    labels, comps = _components(mask)
    if not comps:
        return []
    tallest = max(c.h for c in comps if c.area >= 4) if any(c.area >= 4 for c in comps) else 0
    if tallest == 0:
        return []
    # Specks and rule fragments: much shorter than the writing, or tiny.
    min_area = max(6, int((tallest * 0.08) ** 2))
    comps = [c for c in comps if c.area >= min_area and not _frame_residue(c, grey.shape)]
    glyphs: list[Glyph] = []
    fragments: list[list[_Component]] = []
    for group in _merge_groups(comps):
        x0 = min(c.x for c in group)
        y0 = min(c.y for c in group)
        x1 = max(c.x + c.w for c in group)
        y1 = max(c.y + c.h for c in group)
        if max(c.h for c in group) < 0.25 * tallest or (y1 - y0) < 0.4 * tallest:
            fragments.append(group)  # a stray tick, a rule end, or a digit's detached bar
            continue
        own = np.isin(labels[y0:y1, x0:x1], [c.label for c in group])
        crop = np.where(own, ink[y0:y1, x0:x1], 0.0).astype(np.float32)
        width, tall = x1 - x0, y1 - y0
        splits = []
        # A glyph across comb dividers is digits written into neighbouring cells whose
        # strokes cross the dividers: cut at each divider, one digit a cell.
        inside = [c - x0 for c in dividers if x0 + 0.15 * width < c < x1 - 0.15 * width]
        if inside:
            parts = _cut_at(crop, inside)
            if parts is not None:
                splits.append(parts)
        # Where a divider says where to cut, guessing cuts from the ink profile only adds
        # ways to be wrong; so does cutting a glyph that fits in one comb cell.
        if not splits and width > 1.3 * cell:
            for pieces in (2, 3):
                if width > (0.35 + 0.45 * (pieces - 1)) * tall:
                    # Three touching digits are rare; upright cuts alone keep the crop count down.
                    for slant in CUT_SLANTS if pieces == 2 else (0.0,):
                        splits.extend(_split(crop, pieces, slant))
        glyphs.append(Glyph(box=(x0, y0, width, tall), ink=crop, splits=tuple(splits)))
    glyphs = _with_fragments(glyphs, fragments, labels, ink, tallest)
    # Groups are formed by overlap, so the pieces of a digit that parted side by side (a 4
    # broken at its crossing, a 5 and its bar) are separate glyphs: offer them joined.
    return [
        replace(glyph, joined=_joined(glyph, glyphs[i + 1], tallest, dividers)) if i + 1 < len(glyphs) else glyph
        for i, glyph in enumerate(glyphs)
    ]
