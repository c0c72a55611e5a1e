"""From classified glyphs to a field's reading: text, confidences and status.

A glyph that may be touching digits comes with split alternatives, and one that may be
half of a digit with a joined alternative (it and the next glyph as one digit). The
decoder picks, for the whole field, the way of reading the glyphs with the best total
score, preferring readings whose length the template allows. A crop's score is the digit
model's confidence times the single-digit check's probability that the crop is one whole
digit: the digit model alone is often sure of two touching digits (a 4 and a 6 read as a
6) or of half a digit (a 1), and the check is what tells them apart.

A model that knows marks (docproc.recognize.classes) gives a glyph one more way to be
read: as no digit at all, a mark (kept in ``marks``, left out of ``text``) or a stray
stroke (left out of both), scored by the probability that it is no digit. Only a glyph
whose most likely class is no digit has that way: otherwise it would be the cheap way
out for every glyph the model cannot read, such as two touching zeros, whose split
into two digits must pay for the check's doubt about each piece.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from docproc.layout.templates import FieldSpec
from docproc.recognize.classes import CLASSES, DIGIT_COLUMNS, DIGITS, MARKS
from docproc.recognize.judgement import N_BEST, Alternative, Decoded, judge, meets_rules


@dataclass(frozen=True)
class Reading:
    """One glyph's alternatives: each a list of digit probability rows (1 for the whole
    glyph or the glyph with a fragment, 2 or 3 for a split), and for each row the
    single-digit check's probability (None when no check was run)."""

    options: tuple[tuple[np.ndarray, ...], ...]
    singles: tuple[tuple[float, ...], ...] | None = None
    # The glyph joined with the next one, read as one digit: its probability row and check.
    joined: tuple[np.ndarray, float | None] | None = None
    # Where each option's rows were cut from, in the field's pixels (x, y, w, h; None where
    # not known), and the joined crop's box: where each digit read is (not for reading).
    boxes: tuple[tuple[Box | None, ...], ...] | None = None
    joined_box: Box | None = None


Box = tuple[int, int, int, int]
# One way to read a glyph: its digit probability rows, its score (see _score), and the
# rows' boxes.
Scored = tuple[tuple[np.ndarray, ...], float, tuple["Box | None", ...]]


def _digit(row: np.ndarray) -> int:
    return int(row[:DIGIT_COLUMNS].argmax())


def _digit_confidence(row: np.ndarray) -> float:
    return float(row[:DIGIT_COLUMNS].max())


def _no_digit(row: np.ndarray) -> float:
    """The probability that a glyph is no digit: a mark or a stroke (0 for a digits-only model)."""
    return float(max(0.0, 1.0 - float(row[:DIGIT_COLUMNS].sum()))) if row.size > DIGIT_COLUMNS else 0.0


def _may_be_no_digit(row: np.ndarray) -> bool:
    """Whether a glyph may be read as no digit: its most likely class is a mark or a stroke."""
    return row.size > DIGIT_COLUMNS and int(row.argmax()) >= DIGIT_COLUMNS


def _mark_of(row: np.ndarray) -> str:
    """The mark a glyph read as no digit stands for; empty for a stray stroke."""
    symbol = CLASSES[DIGIT_COLUMNS + int(row[DIGIT_COLUMNS:].argmax())]
    return symbol if symbol in MARKS else ""


def _score(rows: tuple[np.ndarray, ...], singles: tuple[float, ...] | None) -> float:
    """Sum over the crops of log(digit confidence), plus log(single-digit check) when
    there is one. A sum, not a mean: each piece of a split must earn its place, so a whole
    digit the check doubts is not cut into two pieces it doubts as much (on held-out
    scans the mean chose such splits in free-length fields: 4 fields more right, none
    fewer, with the sum)."""
    scores = [math.log(max(_digit_confidence(r), 1e-12)) for r in rows]
    if singles is not None:
        scores = [score + math.log(max(single, 1e-12)) for score, single in zip(scores, singles)]
    return float(sum(scores))


def _best_per_length(reading: Reading) -> list[Scored]:
    """Each option scored once; of the options that give the same number of digits only
    the best can win (they weigh the same against the template's length), so the others
    are dropped before the field's paths are searched."""
    singles = reading.singles if reading.singles is not None else (None,) * len(reading.options)
    boxes = reading.boxes if reading.boxes is not None else tuple((None,) * len(rows) for rows in reading.options)
    best: dict[int, Scored] = {}
    for rows, checks, where in zip(reading.options, singles, boxes):
        score = _score(rows, checks)
        if len(rows) not in best or score > best[len(rows)][1]:
            best[len(rows)] = (rows, score, where)
    return [best[count] for count in sorted(best)]


# A path through the field's glyphs: its total score, and its last step (the glyph it
# started at, the digit count before it, the digit rows it read, the row of a glyph read
# as no digit, and the digits' boxes) for tracing the path back.
_Step = tuple[int, int, tuple[np.ndarray, ...], "np.ndarray | None", tuple["Box | None", ...]]
_Path = tuple[float, "_Step | None"]


@dataclass(frozen=True)
class _Chosen:
    """The glyphs' chosen readings, in field order: each a tuple of digit rows (one per
    digit) or the row of a glyph read as no digit, with the digits' boxes."""

    steps: tuple[tuple[tuple[np.ndarray, ...], np.ndarray | None, tuple[Box | None, ...]], ...]

    def digit_rows(self) -> list[np.ndarray]:
        return [row for rows, _, _ in self.steps for row in rows]

    def digit_boxes(self) -> tuple[Box | None, ...]:
        return tuple(box for _, _, boxes in self.steps for box in boxes)

    def no_digit_rows(self) -> list[np.ndarray]:
        return [row for _, row, _ in self.steps if row is not None]

    def with_marks(self) -> str:
        return "".join(_mark_of(row) if row is not None else "".join(str(_digit(r)) for r in rows)
                       for rows, row, _ in self.steps)


def _best_path(readings: list[Reading], lengths: range | None) -> _Chosen:
    """The best way to read the glyphs: the best-scoring one among those whose digit count
    ``lengths`` allows, or the best-scoring one of all if none fits.

    Dynamic programming over (glyphs read, digits so far): each glyph is read by one of its
    options, as no digit (when its most likely class is none), or together with the next glyph as
    one digit. A joined step stands for two glyphs, so its score counts twice, as two
    crops would: joining is not a way to leave out a crop's doubt.
    """
    count = len(readings)
    paths: list[dict[int, _Path]] = [{} for _ in range(count + 1)]
    paths[0][0] = (0.0, None)
    for at, reading in enumerate(readings):
        # Every position is reached: each glyph has at least its whole reading.
        steps: list[tuple[int, tuple[np.ndarray, ...], float, np.ndarray | None, tuple[Box | None, ...]]] = [
            (1, rows, score, None, where) for rows, score, where in _best_per_length(reading)]
        whole = reading.options[0][0]
        if _may_be_no_digit(whole):
            steps.append((1, (), math.log(max(_no_digit(whole), 1e-12)), whole, ()))
        if reading.joined is not None and at + 1 < count:
            row, check = reading.joined
            steps.append((2, (row,), 2 * _score((row,), None if check is None else (check,)), None,
                          (reading.joined_box,)))
        for digits, (total, _) in paths[at].items():
            for span, rows, score, no_digit, where in steps:
                key = digits + len(rows)
                candidate = total + score
                best = paths[at + span].get(key)
                if best is None or candidate > best[0]:
                    paths[at + span][key] = (candidate, (at, digits, rows, no_digit, where))
    ends = paths[count]
    fitting = [digits for digits in ends if lengths is None or digits in lengths]
    digits = max(fitting or ends, key=lambda d: (ends[d][0], -d))
    chosen: list[tuple[tuple[np.ndarray, ...], np.ndarray | None, tuple[Box | None, ...]]] = []
    at = count
    while at > 0:
        _, step = paths[at][digits]
        assert step is not None
        at, digits, rows, no_digit, where = step
        chosen.append((rows, no_digit, where))
    return _Chosen(tuple(reversed(chosen)))


# How many of a reading's one-digit alternatives are tried, most likely first, when it
# breaks the template's rules (a check digit, a date, an amount, a pattern), and how much
# less likely than the digit it replaces an alternative may be: a digit a hundred times
# less likely is a guess, and the reading then stays as read, in review with the rule it
# breaks as the reason.
ALTERNATIVES = 64
LEAST_RATIO = 0.01


def alternatives(rows: list[np.ndarray], text: str) -> list[tuple[float, int, int]]:
    """The one-digit alternatives of reading ``text`` (its digits, one per row), most
    likely first: (the ratio of their probability to that of the digit they replace, the
    position, the other digit)."""
    found = []
    for position, row in enumerate(rows):
        digits = row[:DIGIT_COLUMNS]
        current = int(text[position])
        base = float(digits[current])
        for digit in np.argsort(-digits):
            if digit == current:
                continue
            ratio = float(digits[digit]) / max(base, 1e-12)
            if ratio < LEAST_RATIO:
                break
            found.append((ratio, position, int(digit)))
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    return found[:ALTERNATIVES]


def _replaced(text: str, marks: str, position: int, digit: int) -> tuple[str, str]:
    """The reading with its digit at ``position`` (of the digits) replaced by ``digit``: its
    digits, and its symbols with marks."""
    at = [index for index, ch in enumerate(marks) if ch in DIGITS][position]
    return text[:position] + str(digit) + text[position + 1:], marks[:at] + str(digit) + marks[at + 1:]


def _within_rules(text: str, marks: str, rows: list[np.ndarray], spec: FieldSpec | None
                  ) -> tuple[str, str, tuple[float, ...]] | None:
    """The most likely reading that differs from ``text`` in one digit and meets the
    template's rules, with its marks and digit confidences; None when none does."""
    for _, position, digit in alternatives(rows, text):
        other, other_marks = _replaced(text, marks, position, digit)
        if meets_rules(other, other_marks, spec):
            confidences = [_digit_confidence(r) for r in rows]
            confidences[position] = float(rows[position][digit])
            return other, other_marks, tuple(confidences)
    return None


def decode_field(readings: list[Reading], spec: FieldSpec | None, review_below: float, doubt: str = "") -> Decoded:
    """Choose each glyph's reading and judge the field (judgement.judge).

    Field confidence is the product of the chosen readings' calibrated probabilities (each
    digit's, and for each glyph read as no digit the probability that it is none): the
    probability that every glyph is read right, given the segmentation. A reading that
    breaks the template's rules gives way to the most likely one that differs from it in
    one digit and keeps them (a check digit, a valid date), if there is one; judge() then
    weighs it as any other (its confidence bears the other digit's doubt).
    """
    lengths = range(spec.min_length, spec.max_length + 1) if spec else None
    chosen = _best_path(readings, lengths)
    rows = chosen.digit_rows()
    text = "".join(str(_digit(r)) for r in rows)
    marks = chosen.with_marks()
    confidences = tuple(_digit_confidence(r) for r in rows)
    if text and spec is not None and not meets_rules(text, marks, spec):
        other = _within_rules(text, marks, rows, spec)
        if other is not None:
            text, marks, confidences = other
    no_digits = [_no_digit(r) for r in chosen.no_digit_rows()]
    confidence = float(np.prod(confidences) * np.prod(no_digits)) if confidences else 0.0
    decoded = judge(text, marks, confidences, confidence, spec, review_below, doubt, blank=not readings)
    return dataclasses.replace(decoded, digit_boxes=chosen.digit_boxes(),
                               alternatives=_n_best(text, marks, rows, confidence))


def _n_best(text: str, marks: str, rows: list[np.ndarray], probability: float) -> tuple[Alternative, ...]:
    """The segmentation's most likely readings (N_BEST): its own, then those that differ
    from it in one digit, each with its probability as the field confidence reckons it."""
    found = [Alternative(text, marks, probability, "segment")] if text else []
    for ratio, position, digit in alternatives(rows, text)[: N_BEST - 1]:
        found.append(Alternative(*_replaced(text, marks, position, digit), probability * ratio, "segment"))
    return tuple(found)


def string_score(readings: list[Reading], digits: str) -> float:
    """The probability the segmentation gives to reading the field as ``digits``: of the
    ways to read the glyphs that spell exactly those digits, the most likely one's product
    of each digit's probability of being that digit and of each glyph read as no digit
    (a mark or a stroke) of being none, as ``decode_field`` scores its own reading. 0 when
    no way spells them. This is how the other reader's string is weighed against the glyphs.
    """
    count, length = len(readings), len(digits)
    wanted = [int(ch) for ch in digits]
    # best[at][k]: the best log probability of reading the first ``at`` glyphs as digits[:k].
    best = [[-math.inf] * (length + 1) for _ in range(count + 1)]
    best[0][0] = 0.0
    for at, reading in enumerate(readings):
        whole = reading.options[0][0]
        no_digit = math.log(max(_no_digit(whole), 1e-12)) if whole.size > DIGIT_COLUMNS else -math.inf
        for k in range(length + 1):
            here = best[at][k]
            if here == -math.inf:
                continue
            for rows in reading.options:
                if k + len(rows) <= length:
                    score = here + sum(math.log(max(float(row[wanted[k + i]]), 1e-12)) for i, row in enumerate(rows))
                    best[at + 1][k + len(rows)] = max(best[at + 1][k + len(rows)], score)
            best[at + 1][k] = max(best[at + 1][k], here + no_digit)
            if reading.joined is not None and at + 1 < count and k < length:
                # Two glyphs read as one digit: one digit's probability, as in the field confidence.
                score = here + math.log(max(float(reading.joined[0][wanted[k]]), 1e-12))
                best[at + 2][k + 1] = max(best[at + 2][k + 1], score)
    end = best[count][length]
    return math.exp(end) if end > -math.inf else 0.0
