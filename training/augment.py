"""Training augmentation: MNIST digits made to look like real scanned crops after the recipe.

Each digit is drawn on a 2x canvas (so stroke width can change by half a pixel), distorted
the way handwriting and scanning distort it (slant, rotation, aspect, elastic wobble,
thicker and thinner pens, broken strokes, blur), then put through the very same
``normalize_glyph`` the pipeline uses, and finally given what the recipe cannot undo:
small offsets from perfect centring, faint ink, and noise. A share of digits stays
exactly as MNIST has it, so the model keeps MNIST's own distribution.

Everything is driven by one ``numpy.random.Generator``: the same seed gives the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docproc.glyphs.normalize import SIZE, normalize_glyph

_UPSCALE = 2
_PAD = 20  # canvas margin, in 2x pixels, so rotation and shear never clip the digit


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each distortion. Angles in degrees, lengths in 1x pixels."""

    keep_original: float = 0.2
    rotate_deg: float = 12.0
    shear: float = 0.35
    scale_x: tuple[float, float] = (0.75, 1.15)
    scale_y: tuple[float, float] = (0.85, 1.15)
    elastic: float = 0.5
    elastic_alpha: tuple[float, float] = (4.0, 14.0)
    elastic_sigma: float = 4.0
    thicken: float = 0.25
    thin: float = 0.2
    break_strokes: float = 0.12
    blur: float = 0.3
    small_box: float = 0.2
    offset: float = 0.3
    offset_px: int = 2
    gamma: float = 0.3
    noise: float = 0.25


DEFAULT = AugmentConfig()


def _affine(canvas: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    height, width = canvas.shape
    angle = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    shear = rng.uniform(-cfg.shear, cfg.shear)
    sx = rng.uniform(*cfg.scale_x)
    sy = rng.uniform(*cfg.scale_y)
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    # Horizontal shear is slant: the way handwriting leans.
    linear = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    centre = np.array([width / 2.0, height / 2.0])
    matrix = np.hstack([linear, (centre - linear @ centre)[:, None]]).astype(np.float32)
    return cv2.warpAffine(canvas, matrix, (width, height), flags=cv2.INTER_LINEAR)


def _elastic(canvas: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    # Simard et al. (2003): a smoothed random displacement field, the classic MNIST distortion.
    height, width = canvas.shape
    alpha = rng.uniform(*cfg.elastic_alpha) * _UPSCALE
    sigma = cfg.elastic_sigma * _UPSCALE
    field = rng.uniform(-1.0, 1.0, size=(2, height, width)).astype(np.float32)
    dx = cv2.GaussianBlur(field[0], (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(field[1], (0, 0), sigma) * alpha
    grid_y, grid_x = np.indices((height, width), dtype=np.float32)
    return cv2.remap(canvas, grid_x + dx, grid_y + dy, interpolation=cv2.INTER_LINEAR)


def _break_strokes(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # A thin gap across the digit, as a dry pen or a lost scan line leaves.
    height, width = canvas.shape
    ink_rows = np.flatnonzero(canvas.max(axis=1) > 0.3)
    if ink_rows.size == 0:
        return canvas
    out = canvas.copy()
    y = int(rng.integers(ink_rows[0], ink_rows[-1] + 1))
    tilt = int(rng.integers(-height // 6, height // 6 + 1))
    thickness = int(rng.integers(1, 3)) * _UPSCALE // 2 + 1
    cv2.line(out, (0, y - tilt), (width - 1, y + tilt), 0.0, thickness)
    return out


def augment_digit(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = DEFAULT) -> np.ndarray:
    """One MNIST digit (28x28, uint8 or float, ink high) to one augmented 28x28 float32 in [0, 1]."""
    base = image.astype(np.float32)
    if base.max() > 1.0:
        base /= 255.0
    if rng.random() < cfg.keep_original:
        return base
    big = cv2.resize(base, (SIZE * _UPSCALE, SIZE * _UPSCALE), interpolation=cv2.INTER_LINEAR)
    canvas = cv2.copyMakeBorder(big, _PAD, _PAD, _PAD, _PAD, cv2.BORDER_CONSTANT, value=0.0)
    canvas = _affine(canvas, cfg, rng)
    if rng.random() < cfg.elastic:
        canvas = _elastic(canvas, cfg, rng)
    pen = rng.random()
    if pen < cfg.thicken:
        size = int(rng.choice([2, 3, 4]))
        canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    elif pen < cfg.thicken + cfg.thin:
        thinner = cv2.erode(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2, 2)))
        # Thinning a thin digit can wipe it out; keep it only if most of the ink survives.
        if thinner.sum() > 0.45 * canvas.sum():
            canvas = thinner
    if rng.random() < cfg.break_strokes:
        canvas = _break_strokes(canvas, rng)
    if rng.random() < cfg.blur:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 1.5) * _UPSCALE / 2)
    # Faint grey edges from interpolation are not ink; a scan's binarization drops them too.
    canvas[canvas < 0.05] = 0.0
    box = 20 if rng.random() >= cfg.small_box else int(rng.integers(15, 20))
    out = normalize_glyph(canvas, box=box)
    if rng.random() < cfg.offset:
        dx, dy = rng.integers(-cfg.offset_px, cfg.offset_px + 1, size=2)
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        out = cv2.warpAffine(out, shift, (SIZE, SIZE), flags=cv2.INTER_NEAREST)
    if rng.random() < cfg.gamma:
        out = out ** rng.uniform(0.6, 1.6)
    if rng.random() < cfg.noise:
        out = out + rng.normal(0.0, rng.uniform(0.01, 0.08), out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def augment_batch(images: np.ndarray, seed: int | list[int], cfg: AugmentConfig = DEFAULT) -> np.ndarray:
    """Augment a (N, 28, 28) stack. The same ``seed`` and images always give the same output."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(images), SIZE, SIZE), np.float32)
    for i, image in enumerate(images):
        out[i] = augment_digit(image, rng, cfg)
    return out
