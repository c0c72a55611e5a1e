"""The decoder's path search against brute force: every way of reading random glyphs."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from docproc.layout.templates import FieldSpec
from docproc.recognize.decode import Reading, decode_field


def _row(rng: np.random.Generator) -> np.ndarray:
    logits = rng.normal(0.0, 3.0, 10)
    return np.exp(logits) / np.exp(logits).sum()


def _crop_score(row: np.ndarray, check: float) -> float:
    return math.log(max(float(row.max()), 1e-12)) + math.log(max(check, 1e-12))


def _every_path(readings: list[Reading], at: int = 0) -> Iterator[tuple[str, float]]:
    """(text, total score) of every way of reading the glyphs from ``at`` on: each glyph
    by any one of its options (the sum of its crops' scores), or joined with the next
    glyph, which counts twice."""
    if at == len(readings):
        yield "", 0.0
        return
    reading = readings[at]
    assert reading.singles is not None
    steps = [("".join(str(int(r.argmax())) for r in rows),
              sum(_crop_score(r, c) for r, c in zip(rows, checks)), 1)
             for rows, checks in zip(reading.options, reading.singles)]
    if reading.joined is not None and at + 1 < len(readings):
        row, check = reading.joined
        steps.append((str(int(row.argmax())), 2 * _crop_score(row, check if check is not None else 1.0), 2))
    for text, score, span in steps:
        for rest, total in _every_path(readings, at + span):
            yield text + rest, score + total


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.booleans())
def test_the_path_search_finds_the_best_reading_there_is(seed: int, glyphs: int, with_spec: bool) -> None:
    rng = np.random.default_rng(seed)
    readings = []
    for _ in range(glyphs):
        options = [(_row(rng),)]
        for _ in range(int(rng.integers(0, 4))):
            options.append(tuple(_row(rng) for _ in range(int(rng.integers(1, 4)))))
        singles = tuple(tuple(float(rng.uniform(0.01, 1.0)) for _ in rows) for rows in options)
        joined = (_row(rng), float(rng.uniform(0.01, 1.0))) if rng.random() < 0.5 else None
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
