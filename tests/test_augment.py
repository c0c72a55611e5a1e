"""Training augmentation: shapes, ranges, determinism, and that digits stay digits."""

from __future__ import annotations

import numpy as np

from docproc.datasets import mnist
from docproc.glyphs.normalize import centre_of_mass
from training import augment


def test_shapes_ranges_and_dtype(mnist_train: mnist.Split) -> None:
    out = augment.augment_batch(mnist_train.images[:300], seed=1)
    assert out.shape == (300, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.all(out.reshape(300, -1).max(axis=1) > 0.3)  # no digit was wiped out


def test_same_seed_same_batch_other_seed_other_batch(mnist_train: mnist.Split) -> None:
    images = mnist_train.images[:100]
    first = augment.augment_batch(images, seed=[5, 0])
    assert np.array_equal(first, augment.augment_batch(images, seed=[5, 0]))
    assert not np.array_equal(first, augment.augment_batch(images, seed=[5, 1]))


def test_augmented_digits_stay_centred_like_mnist(mnist_train: mnist.Split) -> None:
    out = augment.augment_batch(mnist_train.images[:500], seed=3)
    offsets = np.abs(centre_of_mass(out) - 14.0)
    # Recentred by the recipe, then shifted at most offset_px (plus rounding).
    assert offsets.max() <= augment.DEFAULT.offset_px + 1.0
    assert np.median(offsets) < 0.6


def test_every_distortion_changes_the_digit(mnist_train: mnist.Split) -> None:
    image = mnist_train.images[0]
    plain = augment.AugmentConfig(keep_original=0.0, rotate_deg=0.0, shear=0.0, scale_x=(1, 1), scale_y=(1, 1),
                                  elastic=0.0, thicken=0.0, thin=0.0, break_strokes=0.0, blur=0.0, small_box=0.0,
                                  offset=0.0, gamma=0.0, noise=0.0)
    base = augment.augment_digit(image, np.random.default_rng(0), plain)
    # With every distortion off, the round trip through the 2x canvas and the recipe is close to MNIST.
    assert np.abs(base - image / 255.0).mean() < 0.05
    for name, value in [("thicken", 1.0), ("elastic", 1.0), ("blur", 1.0), ("noise", 1.0), ("break_strokes", 1.0)]:
        cfg = augment.AugmentConfig(**{**plain.__dict__, name: value})
        changed = augment.augment_digit(image, np.random.default_rng(0), cfg)
        assert np.abs(changed - base).mean() > 0.005, name
