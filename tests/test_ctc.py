"""CTC decoding against brute force: every path of a short field enumerated and collapsed."""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict

import numpy as np

from docproc.recognize.classes import SEQUENCE_BLANK, SEQUENCE_SYMBOLS, SEQUENCE_WIDTH
from docproc.recognize.ctc import Constraints, beam_search, best_path, string_log_probability

# Columns spread over a few symbols only, so brute force stays small: "1", "7", "-" and the blank.
USED = [SEQUENCE_SYMBOLS.index(ch) for ch in "17-"] + [SEQUENCE_BLANK]


def _columns(steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    columns = np.zeros((steps, SEQUENCE_WIDTH))
    columns[:, USED] = rng.dirichlet(np.ones(len(USED)) * 0.7, size=steps)
    return columns


def _exact(columns: np.ndarray) -> dict[str, float]:
    """Every string's probability, summed over all the paths that collapse to it."""
    strings: dict[str, float] = defaultdict(float)
    for path in itertools.product(USED, repeat=len(columns)):
        collapsed = [s for k, s in enumerate(path) if s != SEQUENCE_BLANK and (k == 0 or path[k - 1] != s)]
        strings["".join(SEQUENCE_SYMBOLS[s] for s in collapsed)] += float(np.prod(columns[np.arange(len(path)), path]))
    return strings


def test_best_path_merges_repeats_and_drops_blanks() -> None:
    codes = [SEQUENCE_SYMBOLS.index("1"), SEQUENCE_SYMBOLS.index("1"), SEQUENCE_BLANK, SEQUENCE_SYMBOLS.index("1"),
             SEQUENCE_SYMBOLS.index("-"), SEQUENCE_BLANK]
    columns = np.eye(SEQUENCE_WIDTH)[codes]
    assert best_path(columns) == "11-"


def test_string_probability_is_the_sum_over_its_paths() -> None:
    for seed in range(5):
        columns = _columns(6, seed)
        for text, probability in _exact(columns).items():
            assert math.isclose(math.exp(string_log_probability(columns, text)), probability, rel_tol=1e-9), text
        assert string_log_probability(columns, "1111111") == float("-inf")  # more symbols than columns


def test_a_wide_beam_finds_the_most_likely_string_with_its_probability() -> None:
    for seed in range(5):
        columns = _columns(6, seed)
        exact = _exact(columns)
        top = beam_search(columns, best=3, beam_width=200, prune_below=0.0)
        truth = sorted(exact.items(), key=lambda item: -item[1])[:3]
        assert [r.symbols for r in top] == [text for text, _ in truth]
        for reading, (_, probability) in zip(top, truth):
            assert math.isclose(reading.probability, probability, rel_tol=1e-9)


def test_constraints_keep_only_the_readings_the_template_allows() -> None:
    columns = _columns(7, 11)
    exact = _exact(columns)
    rules = Constraints(min_length=2, max_length=3, pattern=re.compile(r"1\d*"), marks="")
    allowed = {t: p for t, p in exact.items() if "-" not in t and 2 <= len(t) <= 3 and t.startswith("1")}
    top = beam_search(columns, rules, best=2, beam_width=500, prune_below=0.0)
    assert [r.symbols for r in top] == sorted(allowed, key=lambda t: -allowed[t])[:2]
    assert all(rules.allows(r.symbols) for r in top)


def test_nothing_is_read_where_no_reading_meets_the_constraints() -> None:
    one = np.zeros((3, SEQUENCE_WIDTH))
    one[:, SEQUENCE_BLANK] = 1.0
    assert beam_search(one, Constraints(min_length=1)) == []
    assert beam_search(one)[0].symbols == ""


def test_a_template_s_check_digit_keeps_only_readings_that_pass_it() -> None:
    from docproc.layout.templates import FieldSpec
    from docproc.recognize.agreement import constraints_of
    from docproc.recognize.check_digits import passes

    columns = _columns(7, 11)
    exact = _exact(columns)
    spec = FieldSpec("f", (0, 0, 1, 1), 2, 4, check="mod11")
    allowed = {t: p for t, p in exact.items() if "-" not in t and 2 <= len(t) <= 4 and passes(t, "mod11")}
    assert allowed and len(allowed) < len([t for t in exact if "-" not in t and 2 <= len(t) <= 4])
    top = beam_search(columns, constraints_of(spec), best=2, beam_width=500, prune_below=0.0)
    assert [r.symbols for r in top] == sorted(allowed, key=lambda t: -allowed[t])[:2]
