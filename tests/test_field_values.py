"""What a reading is worth: amounts and dates normalized, check digits, and the judgement
that makes a reading ok or review with its reason (optional blanks, a field's own
threshold, a check digit the decoder repairs from the next best readings)."""

from __future__ import annotations

import numpy as np
import pytest

from docproc.layout.templates import FieldSpec
from docproc.recognize.check_digits import passes
from docproc.recognize.decode import Reading, decode_field
from docproc.recognize.judgement import judge
from docproc.recognize.values import amount_value, date_value


@pytest.mark.parametrize("symbols, decimals, value", [
    ("1250", 2, "1250.00"), ("1.250,00", 2, "1250.00"), ("1,250.00", 2, "1250.00"), ("1250,5", 2, None),
    ("12,50", 2, "12.50"), ("1,250", 2, "1250.00"), ("1.250.000", 2, "1250000.00"), ("1.250.00", 2, None),
    ("$1250=", 2, "1250.00"), ("*1250*", 2, "1250.00"), ("1250,-", 2, "1250.00"), ("0050", 2, "50.00"),
    ("12/50", 2, None), ("12,5,0", 2, None), ("1250", 0, "1250"), ("1.250", 3, "1.250"), ("", 2, None),
    (".50", 2, None), ("12,345,67", 2, None),
])
def test_amounts(symbols: str, decimals: int, value: str | None) -> None:
    assert amount_value(symbols, decimals) == value


@pytest.mark.parametrize("symbols, order, value", [
    ("01022026", "DMY", "2026-02-01"), ("01022026", "MDY", "2026-01-02"), ("20260201", "YMD", "2026-02-01"),
    ("1/2/26", "DMY", "2026-02-01"), ("01-02-1999", "DMY", "1999-02-01"), ("010270", "DMY", "1970-02-01"),
    ("010268", "DMY", "2068-02-01"), ("29022025", "DMY", None), ("29022024", "DMY", "2024-02-29"),
    ("31042026", "DMY", None), ("0102026", "DMY", None), ("1/2", "DMY", None), ("123/2/2026", "DMY", None),
    ("96685782", "DMY", None),
])
def test_dates(symbols: str, order: str, value: str | None) -> None:
    assert date_value(symbols, order) == value


@pytest.mark.parametrize("digits, scheme", [
    ("79927398713", "luhn"), ("4111111111111111", "luhn"), ("4006381333931", "mod10"), ("036000291452", "mod10"),
    ("0306406152", "mod11"),
    # GB82 WEST 1234 5698 7654 32 with its letters moved to the end and turned into digits.
    ("3214282912345698765432161182", "mod97"),
])
def test_check_digits_of_real_numbers(digits: str, scheme: str) -> None:
    assert passes(digits, scheme)
    # Any one digit changed breaks every scheme here (mod10 and luhn miss some transpositions, not these).
    wrong = digits[:-3] + str((int(digits[-3]) + 1) % 10) + digits[-2:]
    assert not passes(wrong, scheme)
    assert not passes(digits[:1], scheme)


def _spec(**keys: object) -> FieldSpec:
    return FieldSpec("f", (0, 0, 1, 1), keys.pop("low", 1), keys.pop("high", 12), **keys)  # type: ignore[arg-type]


def test_a_blank_optional_field_is_ok_and_a_blank_required_one_is_not() -> None:
    blank = judge("", "", (), 0.0, _spec(optional=True), 0.5, blank=True)
    assert (blank.status, blank.text, blank.reason, blank.confidence) == ("ok", "", "", 1.0)
    required = judge("", "", (), 0.0, _spec(), 0.5, blank=True)
    assert (required.status, required.reason) == ("review", "no digits found")
    # Ink that read as no digit is not a blank; a blank whose place is in doubt is not known blank.
    assert judge("", "", (), 0.0, _spec(optional=True), 0.5, blank=False).status == "review"
    assert judge("", "", (), 0.0, _spec(optional=True), 0.5, doubt="page tilted", blank=True).status == "review"


def test_a_field_threshold_replaces_the_run_threshold() -> None:
    assert judge("12", "12", (0.8, 0.8), 0.64, _spec(), 0.5).status == "ok"
    strict = judge("12", "12", (0.8, 0.8), 0.64, _spec(review_below=0.9), 0.5)
    assert (strict.status, strict.reason) == ("review", "confidence under 0.9")
    assert judge("12", "12", (0.8, 0.8), 0.64, _spec(review_below=0.0), 0.99).status == "ok"


def test_reasons_and_values_of_typed_fields() -> None:
    amount = judge("125000", "1.250,00", (0.99,) * 6, 0.95, _spec(value_type="amount", marks=".,"), 0.5)
    assert (amount.status, amount.value, amount.marks) == ("ok", "1250.00", "1.250,00")
    bad = judge("1250", "12/50", (0.99,) * 4, 0.95, _spec(value_type="amount", marks="./"), 0.5)
    assert (bad.status, bad.value, bad.confidence, bad.reason) == ("review", "", 0.0, "not a valid amount (2 decimals)")
    date = judge("96685782", "96685782", (0.99,) * 8, 0.95, _spec(value_type="date"), 0.5)
    assert (date.status, date.reason) == ("review", "not a valid date (DMY)")
    check = judge("79927398710", "79927398710", (0.99,) * 11, 0.9, _spec(check="luhn"), 0.5)
    assert (check.status, check.confidence, check.reason) == ("review", 0.0, "check digit (luhn) does not match")
    digits = judge("42", "42", (0.99, 0.99), 0.98, _spec(), 0.5)
    assert digits.value == ""  # digits fields have no value column of their own


def _rows(text: str, second: dict[int, tuple[int, float]]) -> list[Reading]:
    """One glyph a digit of ``text``, sure of it (0.97) unless ``second`` gives it a runner-up."""
    readings = []
    for position, ch in enumerate(text):
        row = np.full(10, 0.001)
        if position in second:
            other, p = second[position]
            row[other] = p
        row[int(ch)] = 0.0
        row[int(ch)] = 1.0 - row.sum()
        readings.append(Reading(((row,),)))
    return readings


def test_the_decoder_tries_the_next_best_reading_that_passes_the_check_digit() -> None:
    # 79927398713 passes Luhn; the glyph of its 4th digit is read 7 (0.6) over 2 (0.35).
    readings = _rows("79977398713", {3: (2, 0.35)})
    spec = _spec(low=11, high=11, check="luhn")
    decoded = decode_field(readings, spec, 0.1)
    assert decoded.text == "79927398713" and decoded.status == "ok"
    assert decoded.digit_confidences[3] == pytest.approx(0.35)
    # The product of the digits read, the repaired one at its own probability.
    assert decoded.confidence == pytest.approx(0.35 * np.prod([c for i, c in enumerate(decoded.digit_confidences)
                                                                if i != 3]))
    # Its n best are alternatives to the repaired reading: no reading twice, the one as read among them.
    texts = [a.text for a in decoded.alternatives]
    assert texts[0] == "79927398713" and len(set(texts)) == len(texts) and "79977398713" in texts
    # Without the check, the likelier digit stands; with one no alternative passes, review.
    assert decode_field(readings, _spec(low=11, high=11), 0.1).text == "79977398713"
    hopeless = decode_field(_rows("79977398713", {}), _spec(low=11, high=11, check="mod97"), 0.1)
    assert hopeless.status == "review" and "check digit (mod97)" in hopeless.reason


def test_the_decoder_tries_the_next_best_reading_that_is_a_date() -> None:
    readings = _rows("31042026", {1: (0, 0.3)})  # 31 April is no date; 30 April is
    decoded = decode_field(readings, _spec(low=8, high=8, value_type="date"), 0.1)
    assert (decoded.text, decoded.value, decoded.status) == ("30042026", "2026-04-30", "ok")
