"""The decoder's path search against brute force: every way of reading random glyphs,
with a digits-only model and with one that knows marks; and what it makes of marks."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from docproc.layout.templates import FieldSpec
from docproc.recognize.classes import CLASSES, class_of
from docproc.recognize.decode import Reading, decode_field


def _row(rng: np.random.Generator, width: int = 10) -> np.ndarray:
    logits = rng.normal(0.0, 3.0, width)
    return np.exp(logits) / np.exp(logits).sum()


def _crop_score(row: np.ndarray, check: float) -> float:
    return math.log(max(float(row[:10].max()), 1e-12)) + math.log(max(check, 1e-12))


def _every_path(readings: list[Reading], at: int = 0) -> Iterator[tuple[str, float]]:
    """(text, total score) of every way of reading the glyphs from ``at`` on: each glyph
    by any one of its options (the sum of its crops' scores), or joined with the next
    glyph, which counts twice."""
    if at == len(readings):
        yield "", 0.0
        return
    reading = readings[at]
    assert reading.singles is not None
    steps = [("".join(str(int(r[:10].argmax())) for r in rows),
              sum(_crop_score(r, c) for r, c in zip(rows, checks)), 1)
             for rows, checks in zip(reading.options, reading.singles)]
    whole = reading.options[0][0]
    if whole.size > 10 and whole.argmax() >= 10:
        # Read as no digit (where that is its likeliest class): nothing in the text,
        # scored by the probability of being none.
        steps.append(("", math.log(max(1.0 - float(whole[:10].sum()), 1e-12)), 1))
    if reading.joined is not None and at + 1 < len(readings):
        row, check = reading.joined
        steps.append((str(int(row[:10].argmax())), 2 * _crop_score(row, check if check is not None else 1.0), 2))
    for text, score, span in steps:
        for rest, total in _every_path(readings, at + span):
            yield text + rest, score + total


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.booleans(), st.sampled_from([10, len(CLASSES)]))
def test_the_path_search_finds_the_best_reading_there_is(seed: int, glyphs: int, with_spec: bool, width: int) -> None:
    rng = np.random.default_rng(seed)
    readings = []
    for _ in range(glyphs):
        options = [(_row(rng, width),)]
        for _ in range(int(rng.integers(0, 4))):
            options.append(tuple(_row(rng, width) for _ in range(int(rng.integers(1, 4)))))
        singles = tuple(tuple(float(rng.uniform(0.01, 1.0)) for _ in rows) for rows in options)
        joined = (_row(rng, width), float(rng.uniform(0.01, 1.0))) if rng.random() < 0.5 else None
        readings.append(Reading(tuple(options), singles, joined))
    low = int(rng.integers(1, glyphs + 2))
    spec = FieldSpec("f", (0, 0, 1, 1), low, low + int(rng.integers(0, 3))) if with_spec else None

    def fits(text: str) -> bool:
        return spec is None or spec.min_length <= len(text) <= spec.max_length

    paths = list(_every_path(readings))
    best = max((fits(text), total) for text, total in paths)
    decoded = decode_field(readings, spec, review_below=0.5)
    # The decoder's text must be what a best path reads: the lengths first, then the score.
    assert fits(decoded.text) == best[0]
    reached = max(total for text, total in paths if text == decoded.text)
    assert math.isclose(reached, best[1], rel_tol=1e-9, abs_tol=1e-9)


def _sure(symbol: str, sureness: float = 0.98) -> Reading:
    """A glyph the model reads as ``symbol`` with probability ``sureness``, the rest spread evenly."""
    row = np.full(len(CLASSES), (1.0 - sureness) / (len(CLASSES) - 1))
    row[class_of(symbol)] = sureness
    return Reading(((row,),), ((0.9 if symbol.isdigit() else 0.05,),))


def test_marks_are_kept_apart_from_the_digits() -> None:
    readings = [_sure(s) for s in "1.250,00"]
    decoded = decode_field(readings, None, review_below=0.5)
    assert (decoded.text, decoded.marks) == ("125000", "1.250,00")
    assert len(decoded.digit_confidences) == 6
    # Every glyph's reading counts: the two marks' probabilities of being no digit too.
    assert math.isclose(decoded.confidence, float(np.prod([0.98] * 6 + [1 - 0.02 / 18 * 10] * 2)), rel_tol=1e-6)


def test_a_stray_stroke_is_left_out_of_text_and_marks() -> None:
    decoded = decode_field([_sure("4"), _sure("stroke"), _sure("2")], None, review_below=0.5)
    assert (decoded.text, decoded.marks) == ("42", "42")


def test_a_mark_the_template_does_not_allow_means_review() -> None:
    readings = [_sure(s) for s in "12-50"]
    strict = FieldSpec("zip", (0, 0, 1, 1), 4, 4)
    decoded = decode_field(readings, strict, review_below=0.1)
    assert (decoded.text, decoded.marks, decoded.status) == ("1250", "12-50", "review")
    assert decoded.reason == "mark - where the template allows none" and decoded.confidence == 0.0
    allowed = decode_field(readings, FieldSpec("zip", (0, 0, 1, 1), 4, 4, marks="-"), review_below=0.1)
    assert (allowed.status, allowed.reason) == ("ok", "")


def test_a_digits_only_model_reads_marks_as_digits_as_before() -> None:
    row = np.full(10, 0.01)
    row[1] = 0.91
    decoded = decode_field([Reading(((row,),), ((0.9,),))] * 2, None, review_below=0.5)
    assert (decoded.text, decoded.marks) == ("11", "11")


def test_a_glyph_is_read_as_no_digit_only_where_that_is_its_likeliest_class() -> None:
    # Two touching zeros: the model reads the blob as nothing much (a stroke at 0.3 is its
    # likeliest non-digit, an 8 at 0.35 its likeliest class); split, each half is a sure 0
    # the check doubts. The blob must not slip out of the text as a stroke.
    blob = np.full(len(CLASSES), 0.0)
    blob[class_of("8")], blob[class_of("stroke")], blob[class_of("0")] = 0.35, 0.30, 0.35 - 1e-9
    blob /= blob.sum()
    zero = np.full(len(CLASSES), 0.001)
    zero[class_of("0")] = 1 - 0.001 * (len(CLASSES) - 1)
    touching = Reading(((blob,), (zero, zero)), ((0.2,), (0.4, 0.4)))
    decoded = decode_field([_sure("9"), touching], None, review_below=0.5)
    assert (decoded.text, decoded.marks) == ("900", "900")


def test_a_field_whose_place_is_in_doubt_is_review_with_confidence_zero() -> None:
    readings = [_sure(s) for s in "42"]
    sure = decode_field(readings, None, review_below=0.5)
    doubted = decode_field(readings, None, review_below=0.5, doubt="page tilted 20 degrees or more")
    assert sure.status == "ok" and sure.confidence > 0.9
    # The digits and their own confidences stay; the field's value is not vouched for.
    assert (doubted.text, doubted.digit_confidences) == (sure.text, sure.digit_confidences)
    assert (doubted.status, doubted.confidence) == ("review", 0.0)
    assert doubted.reason.startswith("page tilted 20 degrees or more")
