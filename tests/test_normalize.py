"""The MNIST normalization recipe."""

from __future__ import annotations

import numpy as np

from docproc.datasets import mnist
from docproc.glyphs.normalize import CENTRE, centre_of_mass, normalize_glyph


def ink_box(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image.max(axis=1) > 0)
    cols = np.flatnonzero(image.max(axis=0) > 0)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_a_tall_stroke_fits_20_pixels_high_and_keeps_its_aspect() -> None:
    ink = np.zeros((200, 300), np.uint8)
    ink[20:180, 100:140] = 255  # 160 high, 40 wide
    out = normalize_glyph(ink)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    height, width = ink_box(out)
    assert height == 20
    assert width == 5
    com = centre_of_mass(out[None])[0]
    assert np.all(np.abs(com - CENTRE) <= 0.5)


def test_a_tiny_crop_is_enlarged_to_the_box() -> None:
    ink = np.zeros((12, 12), np.float32)
    ink[2:10, 4:8] = 0.6
    out = normalize_glyph(ink)
    assert ink_box(out)[0] == 20
    assert out.max() == 1.0  # ink is scaled to full strength whatever the scan contrast


def test_an_empty_crop_gives_zeros() -> None:
    assert not normalize_glyph(np.zeros((30, 30))).any()


def test_renormalizing_mnist_test_digits_leaves_them_nearly_unchanged(mnist_test: mnist.Split) -> None:
    digits = mnist_test.images[:1000]
    again = np.stack([normalize_glyph(d) for d in digits])
    assert float(np.abs(again - digits / 255.0).mean()) < 1e-3
    # Our centring convention matches MNIST's.
    assert np.allclose(centre_of_mass(again).mean(axis=0), centre_of_mass(digits).mean(axis=0), atol=0.05)
