"""Real handwritten digits from two UCI collections (CC BY 4.0; docs/data.md): the
original 32x32 bitmaps of optdigits (Alpaydin and Kaynak, Bogazici University, 1995) and
the 16x16 bitmaps of semeion (Tattile and Semeion Research Center, 1994).

Both are binary and already size-normalized by their makers; a bitmap is turned
into a grey crop (``as_grey``) that goes through the same steps as any crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docproc.datasets.mnist import sha256_of
from docproc.errors import DatasetError

# The files as the UCI repository distributes them (and ../shared/data/real-digits holds them).
SHA256 = {
    "semeion.data": "7c74222dd9beb6a5b30c7b41104e7486cabc274e013689db1cd62b1ca56d0dd4",
    "optdigits-orig.tra": "6f1012a107d37856f83cb332b26d54738647c1d197278f8ff74c5f55312124ca",
    "optdigits-orig.cv": "29b0ea16767a56815aa39b608520aa18d4acc087b9db85847f4c79addb7d09d3",
    "optdigits-orig.windep": "c09ab8735d588fdf980724f10a5072c0b757037dc80b448b2f6a10392751c9d6",
}
OPTDIGITS_SIZE = 32
SEMEION_SIZE = 16


@dataclass(frozen=True)
class Bitmaps:
    """Digits as uint8 bitmaps (N, H, W), 1 = ink, and their labels (N,)."""

    images: np.ndarray
    labels: np.ndarray


def verified(path: Path) -> Path:
    """``path``, after checking it is the UCI file of its name (SHA-256); DatasetError otherwise."""
    expected = SHA256.get(path.name)
    if expected is None:
        raise DatasetError(f"{path.name} is not one of the UCI digit files docproc knows ({', '.join(SHA256)}).")
    if not path.is_file():
        raise DatasetError(f"{path} is missing; it comes with ../shared/data/real-digits (docs/data.md).")
    actual = sha256_of(path)
    if actual != expected:
        raise DatasetError(f"{path} failed its checksum (SHA-256 {actual}, expected {expected}): it is not the UCI "
                           "original; restore it.")
    return path


def read_optdigits(path: Path) -> Bitmaps:
    """An ``optdigits-orig.*`` file: after its text header, each digit is 32 lines of 32
    ``0``/``1`` characters, then a line holding its class."""
    lines = verified(path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines)
                 if len(line.strip()) == OPTDIGITS_SIZE and set(line.strip()) <= {"0", "1"})
    images, labels = [], []
    at = start
    while at + OPTDIGITS_SIZE < len(lines):
        rows = [line.strip() for line in lines[at : at + OPTDIGITS_SIZE]]
        if any(len(row) != OPTDIGITS_SIZE or not set(row) <= {"0", "1"} for row in rows):
            raise DatasetError(f"{path}, line {at + 1}: not a 32x32 bitmap of 0 and 1")
        images.append(np.array([[c == "1" for c in row] for row in rows], np.uint8))
        labels.append(int(lines[at + OPTDIGITS_SIZE]))
        at += OPTDIGITS_SIZE + 1
    return Bitmaps(np.stack(images), np.array(labels, np.uint8))


def read_semeion(path: Path) -> Bitmaps:
    """``semeion.data``: one digit a line, 256 pixel values (1 = ink, row by row), then a
    ten-wide one-hot class."""
    values = np.loadtxt(verified(path), dtype=np.float32)
    if values.ndim != 2 or values.shape[1] != SEMEION_SIZE ** 2 + 10:
        raise DatasetError(f"{path} does not hold 266 values a line")
    images = values[:, : SEMEION_SIZE ** 2].reshape(-1, SEMEION_SIZE, SEMEION_SIZE).round().astype(np.uint8)
    return Bitmaps(images, values[:, SEMEION_SIZE ** 2 :].argmax(axis=1).astype(np.uint8))


def as_grey(bitmap: np.ndarray) -> np.ndarray:
    """A bitmap as a scan of it would be: dark ink (0) on white paper (255), uint8."""
    return np.where(bitmap > 0, 0, 255).astype(np.uint8)


def recipe_crops(bitmaps: Bitmaps) -> np.ndarray:
    """The bitmaps as ``docproc classify`` reads scanned crops of them: (N, 28, 28)
    float32 MNIST-recipe crops."""
    from docproc.glyphs.normalize import normalize_glyph
    from docproc.ingest.crop_files import ink_from_grey

    return np.stack([normalize_glyph(ink_from_grey(as_grey(bitmap))) for bitmap in bitmaps.images])
