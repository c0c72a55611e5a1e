"""From classified glyphs to a field's reading: text, confidences and status.

A glyph that may be touching digits comes with split alternatives, and one that may be
half of a digit with a joined alternative (it and the next glyph as one digit). The
decoder picks, for the whole field, the way of reading the glyphs with the best total
score, preferring readings whose length the template allows. A crop's score is the digit
model's confidence times the single-digit check's probability that the crop is one whole
digit: the digit model alone is often sure of two touching digits (a 4 and a 6 read as a
6) or of half a digit (a 1), and the check is what tells them apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from docproc.layout.templates import FieldSpec


@dataclass(frozen=True)
class Reading:
    """One glyph's alternatives: each a list of digit probability rows (1 for the whole
    glyph or the glyph with a fragment, 2 or 3 for a split), and for each row the
    single-digit check's probability (None when no check was run)."""

    options: tuple[tuple[np.ndarray, ...], ...]
    singles: tuple[tuple[float, ...], ...] | None = None
    # The glyph joined with the next one, read as one digit: its probability row and check.
    joined: tuple[np.ndarray, float | None] | None = None


@dataclass(frozen=True)
class Decoded:
    """A field's reading: digits, their confidences, the field confidence and status."""

    text: str
    digit_confidences: tuple[float, ...]
    confidence: float
    status: str
    reason: str


# One way to read a glyph: its digit probability rows, and its score (see _score).
Scored = tuple[tuple[np.ndarray, ...], float]


def _score(rows: tuple[np.ndarray, ...], singles: tuple[float, ...] | None) -> float:
    """Sum over the crops of log(digit confidence), plus log(single-digit check) when
    there is one. A sum, not a mean: each piece of a split must earn its place, so a whole
    digit the check doubts is not cut into two pieces it doubts as much (on held-out
    scans the mean chose such splits in free-length fields: 4 fields more right, none
    fewer, with the sum)."""
    scores = [math.log(max(float(r.max()), 1e-12)) for r in rows]
    if singles is not None:
        scores = [score + math.log(max(single, 1e-12)) for score, single in zip(scores, singles)]
    return float(sum(scores))


def _best_per_length(reading: Reading) -> list[Scored]:
    """Each option scored once; of the options that give the same number of digits only
    the best can win (they weigh the same against the template's length), so the others
    are dropped before the field's paths are searched."""
    singles = reading.singles if reading.singles is not None else (None,) * len(reading.options)
    best: dict[int, Scored] = {}
    for rows, checks in zip(reading.options, singles):
        score = _score(rows, checks)
        if len(rows) not in best or score > best[len(rows)][1]:
            best[len(rows)] = (rows, score)
    return [best[count] for count in sorted(best)]


# A path through the field's glyphs: its total score, and its last step (the glyph it
# started at, the digit count before it, the rows it read) for tracing the path back.
_Path = tuple[float, "tuple[int, int, tuple[np.ndarray, ...]] | None"]


def _best_rows(readings: list[Reading], lengths: range | None) -> list[np.ndarray]:
    """The digit rows of the best way to read the glyphs: the best-scoring one among those
    whose digit count ``lengths`` allows, or the best-scoring one of all if none fits.

    Dynamic programming over (glyphs read, digits so far): each glyph is read by one of its
    options, or together with the next glyph as one digit. A joined step stands for two
    glyphs, so its score counts twice, as two crops would: joining is not a way to leave
    out a crop's doubt.
    """
    count = len(readings)
    paths: list[dict[int, _Path]] = [{} for _ in range(count + 1)]
    paths[0][0] = (0.0, None)
    for at, reading in enumerate(readings):
        # Every position is reached: each glyph has at least its whole reading.
        steps = [(1, rows, score) for rows, score in _best_per_length(reading)]
        if reading.joined is not None and at + 1 < count:
            row, check = reading.joined
            steps.append((2, (row,), 2 * _score((row,), None if check is None else (check,))))
        for digits, (total, _) in paths[at].items():
            for span, rows, score in steps:
                key = digits + len(rows)
                candidate = total + score
                best = paths[at + span].get(key)
                if best is None or candidate > best[0]:
                    paths[at + span][key] = (candidate, (at, digits, rows))
    ends = paths[count]
    fitting = [digits for digits in ends if lengths is None or digits in lengths]
    digits = max(fitting or ends, key=lambda d: (ends[d][0], -d))
    chosen: list[tuple[np.ndarray, ...]] = []
    at = count
    while at > 0:
        _, step = paths[at][digits]
        assert step is not None
        at, digits, rows = step
        chosen.append(rows)
    return [row for rows in reversed(chosen) for row in rows]


def decode_field(readings: list[Reading], spec: FieldSpec | None, review_below: float) -> Decoded:
    """Choose each glyph's reading and judge the field.

    Field confidence is the product of the chosen digits' calibrated probabilities: the
    probability that every digit is right, given the segmentation; 0 when the reading
    breaks the template's length or pattern, or nothing was found. ``review`` when it is
    under ``review_below``, or the length or pattern is not met, or nothing was found.
    """
    lengths = range(spec.min_length, spec.max_length + 1) if spec else None
    rows = _best_rows(readings, lengths)
    text = "".join(str(int(r.argmax())) for r in rows)
    confidences = tuple(float(r.max()) for r in rows)
    confidence = float(np.prod(confidences)) if confidences else 0.0
    reasons = []
    if not text:
        reasons.append("no digits found")
    if spec is not None and text and not spec.min_length <= len(text) <= spec.max_length:
        reasons.append(f"{len(text)} digits, expected {spec.min_length}-{spec.max_length}")
    if spec is not None and spec.pattern is not None and text and not spec.pattern.fullmatch(text):
        reasons.append("pattern not met")
    if reasons:
        # A reading the template rules out is not the field's value, however sure each
        # digit is: the probability that the field is right is nil (the digits keep theirs).
        confidence = 0.0
    elif confidence < review_below:
        reasons.append(f"confidence under {review_below}")
    return Decoded(text, confidences, confidence, "review" if reasons else "ok", "; ".join(reasons))
