"""How a field's crops are laid out: each glyph whole, then the pieces of each of its cut
alternatives in turn, then the glyph joined with the next one where it may be half of a
digit. ``lay_out`` writes that order and ``CropLayout`` reads it back; nothing else
counts crops, so the writer and its readers cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docproc.glyphs.normalize import SIZE, normalize_glyph
from docproc.glyphs.segment import Glyph


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
    crops = []
    for glyph in glyphs:
        crops.append(normalize_glyph(glyph.ink))
        for split in glyph.splits:
            crops.extend(normalize_glyph(piece) for piece in split)
        if glyph.joined is not None:
            crops.append(normalize_glyph(glyph.joined))
    stacked = np.stack(crops).astype(np.float32) if crops else np.empty((0, SIZE, SIZE), np.float32)
    layout = CropLayout(tuple(tuple(len(split) for split in g.splits) for g in glyphs),
                        tuple(g.joined is not None for g in glyphs))
    return stacked, layout
