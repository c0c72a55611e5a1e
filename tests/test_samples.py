"""The sample generator records which MNIST digits each field was written with."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from docproc.datasets import mnist
from samples.layouts import DigitSource, FieldDraw, Layout, render_page
from samples.pages import write_set


def test_each_field_records_the_digits_it_was_written_with(tmp_path: Path, mnist_test: mnist.Split) -> None:
    written: dict[tuple[str, int, str], tuple[int, ...]] = {}
    truth = write_set(tmp_path, cheques=2, forms=1, zips=2, seed=61, written_with=written)
    assert set(written) == {(f, p, n) for f, p, n, _ in truth}
    for file, page, name, text in truth:
        assert "".join(str(mnist_test.labels[i]) for i in written[(file, page, name)]) == text


def test_a_field_written_smaller_records_its_last_draw() -> None:
    # Eight digits in a box for three: the writer shrinks them, drawing the digits again.
    cramped = Layout(kind="zip", size=(300, 120), dpi=300,
                     fields=[FieldDraw("zip", (10, 10, 130, 110), "none", 0, (8, 8))])
    rng = np.random.default_rng(5)
    digits = DigitSource(rng)
    _, fields = render_page(cramped, rng, digits, scanner=False)
    assert len(digits.drawn) > len(fields["zip"])  # it did draw again
    assert digits.written == [tuple(digits.drawn[-len(fields["zip"]):])]
    assert "".join(str(digits.split.labels[i]) for i in digits.written[0]) == fields["zip"]
