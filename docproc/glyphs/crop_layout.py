"""How a field's crops are laid out: each glyph whole, then the pieces of each of its cut
alternatives in turn, then the glyph joined with the next one where it may be half of a
digit. ``lay_out`` writes that order and ``CropLayout`` reads it back; nothing else
counts crops, so the writer and its readers cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docproc.glyphs.normalize import SIZE, normalize_glyph
from docproc.glyphs.segment import Glyph

Box = tuple[int, int, int, int]


def _ink_box(ink: np.ndarray, left: int, top: int) -> Box | None:
    """The box of ``ink``'s nonzero pixels, its array's top-left corner at (left, top)."""
    rows, columns = np.flatnonzero((ink > 0).any(axis=1)), np.flatnonzero((ink > 0).any(axis=0))
    if not rows.size:
        return None
    return (left + int(columns[0]), top + int(rows[0]), int(columns[-1] - columns[0]) + 1, int(rows[-1] - rows[0]) + 1)


def _piece_boxes(glyph: Glyph, split: tuple[np.ndarray, ...]) -> list[Box | None]:
    """Where each piece of a cut lies in the field: an upright cut's pieces are the glyph's
    columns side by side, a slanted cut's each the glyph's size with the rest blank; a
    glyph with a fragment beside it is larger than the glyph, at a place not kept."""
    x, y, _, _ = glyph.box
    height, width = glyph.ink.shape
    if all(piece.shape == (height, width) for piece in split):
        return [_ink_box(piece, x, y) for piece in split]
    if all(piece.shape[0] == height for piece in split) and sum(piece.shape[1] for piece in split) == width:
        lefts = np.cumsum([0] + [piece.shape[1] for piece in split[:-1]])
        return [_ink_box(piece, x + int(left), y) for piece, left in zip(split, lefts)]
    return [None] * len(split)


@dataclass(frozen=True)
class GlyphCrops:
    """Where one glyph's crops are among its field's: the whole glyph's index, the
    (start, stop) of each cut alternative's pieces, and the joined crop's index (None
    when it has no joined alternative)."""

    whole: int
    cuts: tuple[tuple[int, int], ...]
    joined: int | None


@dataclass(frozen=True)
class CropLayout:
    """For each glyph of a field, the number of pieces in each of its cut alternatives
    (1 for the glyph with a fragment beside it), and whether it has a joined crop."""

    splits: tuple[tuple[int, ...], ...]
    joins: tuple[bool, ...]
    # Each crop's box (x, y, w, h) in the field's pixels, in crop order; None for a piece
    # whose place in its glyph is not known (a glyph with a fragment beside it).
    boxes: tuple[Box | None, ...] = ()

    def glyphs(self) -> list[GlyphCrops]:
        """Each glyph's crops, in field order."""
        out, at = [], 0
        for split_sizes, joined in zip(self.splits, self.joins):
            whole = at
            at += 1
            cuts = []
            for size in split_sizes:
                cuts.append((at, at + size))
                at += size
            joined_at = None
            if joined:
                joined_at = at
                at += 1
            out.append(GlyphCrops(whole, tuple(cuts), joined_at))
        return out

    @property
    def count(self) -> int:
        """How many crops the field has."""
        return sum(1 + sum(sizes) + joined for sizes, joined in zip(self.splits, self.joins))

    def piece_owners(self, offset: int = 0) -> np.ndarray:
        """For each crop, with the field's crops starting at ``offset`` in a batch: the
        batch index of its glyph's whole crop if it is a piece of a cut in two or more,
        else -1 (a whole glyph, a glyph with its fragment, a joined crop)."""
        owners = np.full(self.count, -1, np.int64)
        for glyph in self.glyphs():
            for start, stop in glyph.cuts:
                if stop - start > 1:
                    owners[start:stop] = offset + glyph.whole
        return owners


def lay_out(glyphs: list[Glyph]) -> tuple[np.ndarray, CropLayout]:
    """Every crop a field's reading options need, normalized ((n, 28, 28) float32), and
    their layout."""
    crops, boxes = [], []
    for index, glyph in enumerate(glyphs):
        crops.append(normalize_glyph(glyph.ink))
        boxes.append(glyph.box)
        for split in glyph.splits:
            crops.extend(normalize_glyph(piece) for piece in split)
            boxes.extend(_piece_boxes(glyph, split))
        if glyph.joined is not None:
            crops.append(normalize_glyph(glyph.joined))
            (x0, y0, w0, h0), (x1, y1, w1, h1) = glyph.box, glyphs[index + 1].box
            left, top = min(x0, x1), min(y0, y1)
            boxes.append((left, top, max(x0 + w0, x1 + w1) - left, max(y0 + h0, y1 + h1) - top))
    stacked = np.stack(crops).astype(np.float32) if crops else np.empty((0, SIZE, SIZE), np.float32)
    layout = CropLayout(tuple(tuple(len(split) for split in g.splits) for g in glyphs),
                        tuple(g.joined is not None for g in glyphs), tuple(boxes))
    return stacked, layout
