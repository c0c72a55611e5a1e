"""From classified glyphs to a field's reading: text, confidences and status.

A glyph that may be touching digits comes with split alternatives; the decoder picks,
for the whole field, the combination of readings with the best mean log-score per glyph,
preferring combinations whose length the template allows. A crop's score is the digit
model's confidence times the single-digit check's probability that the crop is one
whole digit: the digit model alone is often sure of two touching digits (a 4 and a 6
read as a 6) or of half a digit (a 1), and the check is what tells them apart.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from docproc.templates import FieldSpec

MAX_COMBINATIONS = 729  # 3 options for 6 wide glyphs; beyond that, each glyph decides alone


@dataclass(frozen=True)
class Reading:
    """One glyph's alternatives: each a list of digit probability rows (1 for the whole
    glyph, 2 or 3 for a split), and for each row the single-digit check's probability
    (None when no check was run)."""

    options: tuple[tuple[np.ndarray, ...], ...]
    singles: tuple[tuple[float, ...], ...] | None = None


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
    """Mean over the crops of log(digit confidence), plus log(single-digit check) when
    there is one."""
    scores = [math.log(max(float(r.max()), 1e-12)) for r in rows]
    if singles is not None:
        scores = [score + math.log(max(single, 1e-12)) for score, single in zip(scores, singles)]
    return float(np.mean(scores))


def _best_per_length(reading: Reading) -> list[Scored]:
    """Each option scored once; of the options that give the same number of digits only
    the best can win (they weigh the same against the template's length), so the others
    are dropped before the field's combinations are counted."""
    singles = reading.singles if reading.singles is not None else (None,) * len(reading.options)
    best: dict[int, Scored] = {}
    for rows, checks in zip(reading.options, singles):
        score = _score(rows, checks)
        if len(rows) not in best or score > best[len(rows)][1]:
            best[len(rows)] = (rows, score)
    return [best[count] for count in sorted(best)]


def decode_field(readings: list[Reading], spec: FieldSpec | None, review_below: float) -> Decoded:
    """Choose each glyph's reading and judge the field.

    Field confidence is the product of the chosen digits' calibrated probabilities: the
    probability that every digit is right, given the segmentation. ``review`` when it is
    under ``review_below``, or the length or pattern is not met, or nothing was found.
    """
    lengths = range(spec.min_length, spec.max_length + 1) if spec else None
    choices = [_best_per_length(r) for r in readings]
    combos_count = math.prod(len(c) for c in choices) if choices else 1
    chosen: list[Scored]
    if combos_count <= MAX_COMBINATIONS:
        best_key: tuple[bool, float] | None = None
        chosen = [c[0] for c in choices]
        for combo in itertools.product(*choices):
            length = sum(len(rows) for rows, _ in combo)
            fits = lengths is None or length in lengths
            key = (fits, sum(score for _, score in combo))
            if best_key is None or key > best_key:
                best_key, chosen = key, list(combo)
    else:
        chosen = [max(c, key=lambda scored: scored[1]) for c in choices]
    rows = [row for option_rows, _ in chosen for row in option_rows]
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
    if text and confidence < review_below:
        reasons.append(f"confidence under {review_below}")
    return Decoded(text, confidences, confidence, "review" if reasons else "ok", "; ".join(reasons))
