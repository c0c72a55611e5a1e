"""The segmentation's probability of a given string, against the decoder's own reading."""

from __future__ import annotations

import math

import numpy as np

from docproc.recognize.decode import Reading, decode_field, string_score


def _readings(seed: int, glyphs: int = 4, joins: bool = True) -> list[Reading]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(glyphs):
        row = lambda: rng.dirichlet(np.ones(10) * 0.3).astype(np.float32)  # noqa: E731
        options = [(row(),)]
        if rng.random() < 0.5:
            options.append((row(), row()))  # the glyph cut in two
        joined = (row(), None) if rng.random() < 0.3 and joins else None
        out.append(Reading(tuple(options), None, joined))
    return out


def test_the_decoders_own_reading_scores_its_confidence() -> None:
    for seed in range(40):
        readings = _readings(seed, joins=False)
        decoded = decode_field(readings, None, 0.5)
        assert math.isclose(string_score(readings, decoded.text), decoded.confidence, rel_tol=1e-6), seed


def test_with_joined_glyphs_the_reading_scores_at_least_its_confidence() -> None:
    # The decoder's search counts a joined step twice (two crops' doubt); the probability once.
    for seed in range(40):
        readings = _readings(seed)
        decoded = decode_field(readings, None, 0.5)
        assert string_score(readings, decoded.text) >= decoded.confidence * (1 - 1e-6), seed


def test_no_other_string_of_the_glyphs_scores_higher_than_the_reading() -> None:
    rng = np.random.default_rng(3)
    for seed in range(20):
        readings = _readings(seed, joins=False)
        decoded = decode_field(readings, None, 0.5)
        for _ in range(20):
            other = "".join(str(d) for d in rng.integers(0, 10, size=len(decoded.text)))
            assert string_score(readings, other) <= decoded.confidence + 1e-9


def test_a_string_the_glyphs_cannot_spell_scores_nothing() -> None:
    readings = _readings(1, glyphs=2)
    assert string_score(readings, "1234567") == 0.0
