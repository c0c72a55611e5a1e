"""Printed rules: find and remove the frames, underlines and comb dividers around fields.

A field's pen strokes often touch or cross its printed furniture; what a stroke crosses
is put back, and a vertical run counts as printed only where the layout says it can be
(meeting rules at both ends, on a comb's grid).
"""

from __future__ import annotations

import cv2
import numpy as np

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
    horizontal, vertical = _long_runs(m, min_horizontal, min_vertical)
    if one_field:
        horizontal = _field_rules(horizontal)
    vertical = _attached_verticals(m, horizontal, vertical, one_field)
    # Anti-aliased rule edges sit one pixel outside the opened run.
    horizontal = cv2.dilate(horizontal, np.ones((3, 1), np.uint8)) & m
    vertical = cv2.dilate(vertical, np.ones((1, 3), np.uint8)) & m
    rules = (horizontal | vertical).astype(bool)
    return _crossings_put_back(mask & ~rules, horizontal, vertical), rules


def _long_runs(m: np.ndarray, min_horizontal: int, min_vertical: int) -> tuple[np.ndarray, np.ndarray]:
    """The horizontal and the vertical runs of ink at least that long (uint8 masks)."""
    # Thin printed rules, blurred by the scan, binarize into dashes: bridge short gaps
    # along each direction before looking for long runs.
    horizontal = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((1, 5), np.uint8)),
                                  cv2.MORPH_OPEN, np.ones((1, max(2, min_horizontal)), np.uint8))
    vertical = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((5, 1), np.uint8)),
                                cv2.MORPH_OPEN, np.ones((max(2, min_vertical), 1), np.uint8))
    return horizontal, vertical


def _attached_verticals(m: np.ndarray, horizontal: np.ndarray, vertical: np.ndarray, one_field: bool) -> np.ndarray:
    """Of the vertical runs, those that are printed: they meet a horizontal rule at both
    ends (and, in one field, fit its frame's layout)."""
    # A vertical run counts as printed only where it meets a horizontal rule (a frame
    # side, a comb divider): an upright handwritten 1 is as tall and straight, but free.
    # Both ends must meet one: a tall 1 resting on an underline or frame bottom is free
    # at its top.
    count, vlabels, vstats, _ = cv2.connectedComponentsWithStats(vertical, connectivity=8)
    if count <= 1:
        return vertical
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
    return printed[vlabels]


def _crossings_put_back(kept: np.ndarray, horizontal: np.ndarray, vertical: np.ndarray) -> np.ndarray:
    """``kept`` with the rule pixels a pen stroke crosses (ink on both sides) put back."""
    k = kept.astype(np.uint8)
    reach = 9
    across_h = cv2.morphologyEx(k, cv2.MORPH_CLOSE, np.ones((reach, 1), np.uint8)).astype(bool)
    across_v = cv2.morphologyEx(k, cv2.MORPH_CLOSE, np.ones((1, reach), np.uint8)).astype(bool)
    kept |= (horizontal.astype(bool) & across_h) | (vertical.astype(bool) & across_v)
    return kept


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


def divider_columns(rules: np.ndarray, height: int) -> list[int]:
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
