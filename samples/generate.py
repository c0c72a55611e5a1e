"""Make the demo samples (and single-digit test fixtures) from MNIST *test* digits.

    python -m samples.generate     # rewrites samples/scans/, samples/templates/, samples/truth.csv

MNIST's test writers are disjoint from its training writers: nothing here was seen in
training. Output is deterministic for a given seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from docproc.datasets import mnist

SAMPLES = Path(__file__).resolve().parent


def render_digit_crop(digit: np.ndarray, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """One MNIST digit (28x28 uint8, ink high) as a ``size`` x ``size`` grey scan crop (uint8,
    dark ink on light paper), scaled, placed off-centre, blurred and noisy."""
    height = int(rng.integers(int(size * 0.55), int(size * 0.85)))
    glyph = cv2.resize(digit.astype(np.float32) / 255.0, (height, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.zeros((size, size), np.float32)
    top = int(rng.integers(0, size - height + 1))
    left = int(rng.integers(0, size - height + 1))
    canvas[top : top + height, left : left + height] = np.clip(glyph, 0.0, 1.0)
    paper = rng.uniform(215, 245)
    ink = rng.uniform(15, 70)
    grey = paper - canvas * (paper - ink)
    grey = cv2.GaussianBlur(grey, (0, 0), rng.uniform(0.4, 1.0))
    grey += rng.normal(0.0, rng.uniform(2.0, 6.0), grey.shape)
    return np.clip(grey, 0, 255).astype(np.uint8)


def write_digit_crops(out_dir: Path, count: int, seed: int) -> list[tuple[str, int]]:
    """Write ``count`` crops of MNIST test digits to ``out_dir``; returns (file name, label) pairs."""
    test = mnist.load("test")
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(test.labels), size=count, replace=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, index in enumerate(indices, start=1):
        name = f"digit-{number:02d}.png"
        cv2.imwrite(str(out_dir / name), render_digit_crop(test.images[index], rng))
        written.append((name, int(test.labels[index])))
    return written


def main(argv: list[str] | None = None) -> None:
    """Rewrite the demo set: a few cheques, a two-page form PDF, a multi-page zip TIFF."""
    from samples.pages import write_set

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SAMPLES)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    truth = write_set(args.out, cheques=4, forms=1, zips=6, seed=args.seed, template_keys=True)
    print(f"wrote {len(truth)} fields to {args.out / 'scans'}")


if __name__ == "__main__":
    main()
