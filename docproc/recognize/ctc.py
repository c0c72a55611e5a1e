"""Reading the sequence reader's output: CTC best path, and the probability of a given string.

The reader gives, for each column of the field's line, the probability of each symbol
(docproc.recognize.classes.SEQUENCE_SYMBOLS) and of the blank (the last column). A string
is read by collapsing a path of columns: repeats merge, blanks drop out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from docproc.recognize.classes import DIGITS, MARKS, SEQUENCE_BLANK, SEQUENCE_SYMBOLS

# More digits than any field holds: the bound of an unconstrained reading.
MAX_SYMBOLS = 64


def best_path_symbols(probabilities: np.ndarray) -> list[tuple[str, float]]:
    """The symbols of the most likely column-by-column path of one field's
    (T, SEQUENCE_WIDTH) probabilities, collapsed (repeats merged, blanks dropped), each
    with its highest probability over the columns that emit it."""
    best = np.argmax(probabilities, axis=1)
    runs: list[tuple[int, float]] = []
    for t, code in enumerate(best):
        if code == SEQUENCE_BLANK:
            continue
        if t > 0 and best[t - 1] == code:
            runs[-1] = (int(code), max(runs[-1][1], float(probabilities[t, code])))
        else:
            runs.append((int(code), float(probabilities[t, code])))
    return [(SEQUENCE_SYMBOLS[code], p) for code, p in runs]


def best_path(probabilities: np.ndarray) -> str:
    """The string of the most likely column-by-column path (greedy CTC decoding) of one
    field's (T, SEQUENCE_WIDTH) probabilities."""
    return "".join(symbol for symbol, _ in best_path_symbols(probabilities))


@dataclass(frozen=True)
class SequenceReading:
    """One reading of a field by the sequence reader: its symbols left to right (marks
    included) and the probability the reader gives that string (summed over its
    alignments to the columns)."""

    symbols: str
    probability: float

    @property
    def digits(self) -> str:
        """The digits of the reading, marks left out: the field's text."""
        return "".join(ch for ch in self.symbols if ch in DIGITS)


@dataclass(frozen=True)
class Constraints:
    """What the template knows of a field: its digit count, a pattern its digits must
    match in full, and the marks it may hold. None: anything."""

    min_length: int = 0
    max_length: int = MAX_SYMBOLS
    pattern: re.Pattern[str] | None = None
    marks: str = MARKS
    # Any other rule a whole reading (its digits, and its symbols with marks) must keep: a
    # check digit, a valid date or amount (recognize.judgement.meets_rules). None: no other.
    accepts: Callable[[str, str], bool] | None = field(default=None, compare=False)

    def allows_prefix(self, digits: int, symbol: str) -> bool:
        """Whether a reading may go on with ``symbol`` after ``digits`` digits."""
        if symbol in DIGITS:
            return digits < self.max_length
        return symbol in self.marks

    def allows(self, reading: str) -> bool:
        """Whether a whole reading meets the constraints."""
        digits = "".join(ch for ch in reading if ch in DIGITS)
        return (self.min_length <= len(digits) <= self.max_length
                and (self.pattern is None or self.pattern.fullmatch(digits) is not None)
                and (self.accepts is None or self.accepts(digits, reading)))


UNCONSTRAINED = Constraints()
BEAM_WIDTH = 16
# A symbol under this probability in a column starts no new reading there: it changes
# no beam a width of 16 keeps, and skipping it keeps the search to a few symbols a column.
PRUNE_BELOW = 1e-4


def beam_search(probabilities: np.ndarray, constraints: Constraints = UNCONSTRAINED, best: int = 5,
                beam_width: int = BEAM_WIDTH, prune_below: float = PRUNE_BELOW) -> list[SequenceReading]:
    """The ``best`` most likely readings of one field's (T, SEQUENCE_WIDTH) column
    probabilities that meet ``constraints``, most likely first (CTC prefix beam search;
    the length and marks prune the search, the pattern and the least length filter what
    it found). Empty when no reading in the beam meets them."""
    columns = np.asarray(probabilities, np.float64)
    # prefix (symbol indices) -> [probability ending in a blank, ending in its last symbol]
    beams: dict[tuple[int, ...], list[float]] = {(): [1.0, 0.0]}
    digit_codes = set(range(len(DIGITS)))
    for column in columns:
        blank = column[SEQUENCE_BLANK]
        likely = [s for s in np.flatnonzero(column > prune_below) if s != SEQUENCE_BLANK]
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (ends_blank, ends_symbol) in beams.items():
            total = ends_blank + ends_symbol
            slot = grown.setdefault(prefix, [0.0, 0.0])
            slot[0] += total * blank
            last = prefix[-1] if prefix else -1
            if last >= 0:
                slot[1] += ends_symbol * column[last]  # the last symbol goes on: it collapses
            digits = sum(1 for s in prefix if s in digit_codes)
            for symbol in likely:
                if not constraints.allows_prefix(digits, SEQUENCE_SYMBOLS[symbol]):
                    continue
                # A repeated symbol is a new one only after a blank.
                mass = ends_blank if symbol == last else total
                if mass > 0.0:
                    grown.setdefault((*prefix, int(symbol)), [0.0, 0.0])[1] += mass * column[symbol]
        ranked = sorted(grown.items(), key=lambda item: item[1][0] + item[1][1], reverse=True)
        beams = dict(ranked[:beam_width])
    readings = [SequenceReading("".join(SEQUENCE_SYMBOLS[s] for s in prefix), float(sum(mass)))
                for prefix, mass in beams.items()]
    readings = [r for r in readings if constraints.allows(r.symbols)]
    readings.sort(key=lambda r: (-r.probability, r.symbols))
    return readings[:best]


def string_log_probability(probabilities: np.ndarray, symbols: str) -> float:
    """The natural log of the probability the reader gives ``symbols`` (summed over every
    alignment to the columns: the CTC forward algorithm); -inf when the string cannot be
    aligned (more symbols than the columns hold, or a symbol not in its alphabet)."""
    if any(ch not in SEQUENCE_SYMBOLS for ch in symbols):
        return float("-inf")
    columns = np.asarray(probabilities, np.float64)
    steps = len(columns)
    labels = [SEQUENCE_BLANK]
    for ch in symbols:
        labels += [SEQUENCE_SYMBOLS.index(ch), SEQUENCE_BLANK]
    size = len(labels)
    if steps == 0:
        return 0.0 if not symbols else float("-inf")
    alpha = np.zeros(size)
    alpha[0] = columns[0, labels[0]]
    if size > 1:
        alpha[1] = columns[0, labels[1]]
    # A skip over a blank is allowed between two different symbols only.
    can_skip = np.array([k >= 2 and labels[k] != SEQUENCE_BLANK and labels[k] != labels[k - 2] for k in range(size)])
    log_scale = 0.0
    for t in range(1, steps):
        total = alpha.sum()
        if total <= 0.0:
            return float("-inf")
        alpha /= total  # rescaled each step, so long fields do not underflow
        log_scale += np.log(total)
        stepped = alpha.copy()
        stepped[1:] += alpha[:-1]
        stepped[2:] += np.where(can_skip[2:], alpha[:-2], 0.0)
        alpha = stepped * columns[t, labels]
    end = alpha[-1] + (alpha[-2] if size > 1 else 0.0)
    return float(np.log(end) + log_scale) if end > 0.0 else float("-inf")
