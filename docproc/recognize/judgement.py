"""Whether a field's reading is its value, and why not: the one place a reading becomes
``ok`` or ``review``, whichever reader made it.

A reading is not the field's value when its place on the page is in doubt, when it
breaks the template's length, pattern, marks, check digit or type (an amount or date
that is none), or when nothing was read; its confidence is then 0, however sure each
digit is. Otherwise it is ``review`` under the field's threshold (the template's
``review_below``, else the run's). A blank ``optional`` field is ``ok`` with an empty
text. The reasons are the results' ``reason`` column (docs/results-csv.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from docproc.layout.templates import FieldSpec
from docproc.recognize.check_digits import passes
from docproc.recognize.classes import MARKS
from docproc.recognize.values import amount_value, date_value

NO_DIGITS = "no digits found"
# The confidence of a blank optional field: nothing in its box is ink (specks and the
# form's own rules aside), so there is no reading to doubt.
BLANK_CONFIDENCE = 1.0


# How many of each reader's most likely readings a field keeps (the JSON Lines output's
# alternatives; the both-readers weighing looks at as many of the sequence reader's).
N_BEST = 5


@dataclass(frozen=True)
class Alternative:
    """One of a reader's most likely readings of a field: its digits, with its marks, the
    reader's probability of it, and which reader (``segment`` or ``sequence``)."""

    text: str
    marks: str
    probability: float
    reader: str


@dataclass(frozen=True)
class Decoded:
    """A field's reading: digits, their confidences, the field confidence and status, why
    it is in review (empty when ``ok``), the reading with the marks between its digits
    (``1.250,00``; equal to ``text`` when the model knows no marks), the value of an
    amount or date field (``1250.00``, ``2026-02-01``; empty otherwise), where its digits
    are and the readers' n best readings."""

    text: str
    digit_confidences: tuple[float, ...]
    confidence: float
    status: str
    reason: str
    marks: str = ""
    value: str = ""
    # Where each digit is in the field's pixels (x, y, w, h; None where not known), and the
    # readers' most likely readings.
    digit_boxes: tuple[tuple[int, int, int, int] | None, ...] = ()
    alternatives: tuple[Alternative, ...] = ()


def value_of(text: str, marks: str, spec: FieldSpec | None) -> str | None:
    """The field's value: the normalized amount or date for a field of that type, else
    its digits; None when the reading is no valid amount or date."""
    symbols = marks or text
    if spec is None or spec.value_type == "digits":
        return text
    if spec.value_type == "amount":
        return amount_value(symbols, spec.decimals)
    return date_value(symbols, spec.order)


def rule_reasons(text: str, marks: str, spec: FieldSpec | None) -> list[str]:
    """Why a reading (its digits, and the reading with its marks) is not the field's value:
    nothing read, or the template's length, pattern, marks, check digit or type broken.
    Empty when none."""
    if not text:
        return [NO_DIGITS]
    if spec is None:
        return []
    reasons = []
    if not spec.min_length <= len(text) <= spec.max_length:
        expected = f"{spec.min_length}" if spec.min_length == spec.max_length else f"{spec.min_length}-{spec.max_length}"
        reasons.append(f"{len(text)} digit{'s' if len(text) != 1 else ''}, expected {expected}")
    if spec.pattern is not None and not spec.pattern.fullmatch(text):
        reasons.append(f"pattern {spec.pattern.pattern} not met")
    stray = sorted({m for m in marks if m in MARKS and m not in spec.marks})
    if stray:
        reasons.append(f"mark {' '.join(stray)} where the template allows {repr(spec.marks) if spec.marks else 'none'}")
    if spec.check is not None and not passes(text, spec.check):
        reasons.append(f"check digit ({spec.check}) does not match")
    if spec.value_type != "digits" and value_of(text, marks, spec) is None:
        how = f"{spec.decimals} decimals" if spec.value_type == "amount" else spec.order
        reasons.append(f"not a valid {spec.value_type} ({how})")
    return reasons


def meets_rules(text: str, marks: str, spec: FieldSpec | None) -> bool:
    """Whether a reading is one the template allows (``rule_reasons`` finds nothing)."""
    return not rule_reasons(text, marks, spec)


def threshold(spec: FieldSpec | None, review_below: float) -> float:
    """The field's review threshold: its template's ``review_below``, else the run's."""
    return spec.review_below if spec is not None and spec.review_below is not None else review_below


def judge(text: str, marks: str, digit_confidences: tuple[float, ...], confidence: float, spec: FieldSpec | None,
          review_below: float, doubt: str = "", blank: bool = False, unsure: tuple[str, ...] = ()) -> Decoded:
    """The field's status, confidence, reason and value from its reading. ``doubt``: why
    its place on the page is in doubt (the layout's); ``blank``: no writing in its box;
    ``unsure``: what else to say when it is under its threshold (the readers disagree)."""
    marks = marks or text
    if blank and not text and spec is not None and spec.optional and not doubt:
        return Decoded("", (), BLANK_CONFIDENCE, "ok", "", "", "")
    reasons = ([doubt] if doubt else []) + rule_reasons(text, marks, spec)
    value = value_of(text, marks, spec) if spec is not None and spec.value_type != "digits" else None
    if reasons:
        confidence = 0.0
    else:
        below = threshold(spec, review_below)
        if confidence < below:
            reasons += [*unsure, f"confidence under {below:g}"]
    return Decoded(text, digit_confidences, confidence, "review" if reasons else "ok", "; ".join(reasons), marks,
                   value or "")
