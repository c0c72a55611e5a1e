"""The digit model's training data: many hands, and the marks that are not digits.

Five sources, each turned into MNIST-recipe crops (docproc.glyphs.normalize) and then
through the same augmentation (training/augment.py):

- MNIST's training split (the 5,000 validation digits held out; never the test split);
- the real digits of UCI semeion and optdigits (``training/data/real-digits``, CC BY 4.0),
  all but optdigits' writer-independent file ``windep``, which stays a test of unseen
  writers;
- the digits and marks of the training handwriting fonts (docproc.datasets.fonts), each
  rendered at a few sizes, never shown clean: every font crop is augmented;
- digits drawn with a pen along stroke skeletons in the styles MNIST lacks
  (training/pen_digits.py): the flagged 1, the wide looped 0, the 2 with a loop;
- marks and stray strokes drawn with a pen of random width at the size they have beside
  digits of a random height, so a comma's stubby shape after the recipe tells it from a 1.

Each epoch's mix is a pure function of (seed, epoch), like the MNIST-only training was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from docproc.datasets import fonts as font_files
from docproc.datasets import uci_digits
from docproc.glyphs.normalize import SIZE, normalize_glyph
from docproc.recognize.classes import DIGITS, MARKS, STROKE, class_of
from training import augment, pen_digits

REPO = Path(__file__).resolve().parent.parent
REAL_DIGITS = REPO / "training" / "data" / "real-digits"
UCI_TRAINING_FILES = ("semeion.data", "optdigits-orig.tra", "optdigits-orig.cv")
UCI_TEST_FILE = "optdigits-orig.windep"
# Font sizes in pixels (the em): stroke widths and anti-aliasing differ with the size.
FONT_SIZES = (30, 46, 68)
FONT_SYMBOLS = DIGITS + MARKS
# Font crops are never seen as rendered; MNIST and the real digits keep their share of originals.
FONT_AUGMENT = replace(augment.DEFAULT, keep_original=0.0)
# Drawn marks come out of the recipe already varied; augmentation adds the rest.
MARK_AUGMENT = replace(augment.DEFAULT, keep_original=0.0, break_strokes=0.0)
# Pen-drawn digits are varied as they are drawn; augmentation adds the scan's part.
PEN_AUGMENT = replace(augment.DEFAULT, keep_original=0.0)


@dataclass(frozen=True)
class Crops:
    """Recipe crops (N, 28, 28) uint8, ink high, and their class columns (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> Crops:
        """The crops at ``index``."""
        return Crops(self.images[index], self.labels[index])


def as_uint8(crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Float crops in [0, 1] (a list or a stack) as a uint8 stack, ink high."""
    stack = np.stack(list(crops)) if len(crops) else np.zeros((0, SIZE, SIZE), np.float32)
    return np.round(np.clip(stack, 0.0, 1.0) * 255.0).astype(np.uint8)


def uci_training_bitmaps(names: tuple[str, ...] = UCI_TRAINING_FILES,
                         folder: Path = REAL_DIGITS) -> list[uci_digits.Bitmaps]:
    """The bitmaps of the named UCI files, each read by its own format. Refuses the
    writer-independent test file: every training source of real digits comes through here."""
    if UCI_TEST_FILE in names:
        raise ValueError(f"{UCI_TEST_FILE} is the test of unseen writers: it is never training data")
    return [uci_digits.read_semeion(folder / name) if name == "semeion.data" else uci_digits.read_optdigits(folder / name)
            for name in names]


def uci_crops(names: tuple[str, ...] = UCI_TRAINING_FILES, folder: Path = REAL_DIGITS) -> Crops:
    """The UCI digits of the named files as recipe crops, each bitmap read as
    ``docproc classify`` reads a scanned crop. Refuses the writer-independent test file."""
    bitmaps = uci_training_bitmaps(names, folder)
    images = [crop for one in bitmaps for crop in uci_digits.recipe_crops(one)]
    return Crops(as_uint8(images), np.concatenate([one.labels for one in bitmaps]).astype(np.uint8))


def render_symbol(font_path: Path, symbol: str, size: int) -> np.ndarray:
    """One character of a font at ``size`` px, as an ink-high float32 image on a blank canvas."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    canvas = Image.new("L", (size * 3, size * 3), 0)
    ImageDraw.Draw(canvas).text((size, size), symbol, font=font, fill=255)
    ink = np.asarray(canvas, np.float32) / 255.0
    return ink


def font_crops(faces: tuple[font_files.Font, ...], symbols: str = FONT_SYMBOLS,
               sizes: tuple[int, ...] = FONT_SIZES) -> Crops:
    """Every symbol of every face at every size, as recipe crops (clean: augment them)."""
    paths = font_files.fetch(faces)
    images, labels = [], []
    for face in faces:
        for size in sizes:
            for symbol in symbols:
                images.append(normalize_glyph(render_symbol(paths[face.name], symbol, size)))
                labels.append(class_of(symbol))
    return Crops(as_uint8(images), np.array(labels, np.uint8))


def _pen_line(canvas: np.ndarray, points: np.ndarray, pen: float) -> None:
    # Sub-pixel coordinates (shift 4) keep thin strokes smooth.
    scaled = np.round(points * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [scaled], False, 1.0, max(1, round(pen)), cv2.LINE_AA, 4)


def _segment(centre: np.ndarray, length: float, angle_deg: float) -> np.ndarray:
    direction = np.array([np.cos(np.deg2rad(angle_deg)), -np.sin(np.deg2rad(angle_deg))])
    return np.stack([centre - direction * length / 2, centre + direction * length / 2])


def draw_mark(symbol: str, rng: np.random.Generator, height: float | None = None) -> np.ndarray:
    """One mark (or a stray stroke) as a pen draws it beside digits of ``height`` pixels
    (default: a random height): an ink-high float32 image of its own size."""
    height = rng.uniform(26, 60) if height is None else height
    pen = rng.uniform(1.5, max(2.0, 0.13 * height))
    canvas = np.zeros((int(height * 2), int(height * 2)), np.float32)
    centre = np.array(canvas.shape[::-1], np.float64) / 2
    if symbol == ".":
        axes = (max(1, round(pen * rng.uniform(0.4, 1.1))), max(1, round(pen * rng.uniform(0.4, 1.1))))
        cv2.ellipse(canvas, tuple(int(v) for v in centre), axes, rng.uniform(0, 180), 0, 360, 1.0, -1, cv2.LINE_AA)
    elif symbol == ",":
        cv2.circle(canvas, tuple(int(v) for v in centre), max(1, round(pen * rng.uniform(0.5, 1.0))), 1.0, -1, cv2.LINE_AA)
        tail = height * rng.uniform(0.12, 0.35)
        bend = rng.uniform(-0.5, -0.1) * tail
        points = np.array([centre, centre + [0.1 * bend, 0.5 * tail], centre + [bend, tail]])
        _pen_line(canvas, points, pen * rng.uniform(0.6, 1.0))
    elif symbol == "-":
        _pen_line(canvas, _segment(centre, height * rng.uniform(0.2, 0.75), rng.uniform(-12, 12)), pen)
    elif symbol == "=":
        gap, length, angle = height * rng.uniform(0.12, 0.35), height * rng.uniform(0.25, 0.75), rng.uniform(-10, 10)
        for offset in (-gap / 2, gap / 2):
            shift = np.array([rng.uniform(-0.1, 0.1) * length, offset])
            _pen_line(canvas, _segment(centre + shift, length * rng.uniform(0.8, 1.2), angle + rng.uniform(-4, 4)), pen)
    elif symbol == "/":
        _pen_line(canvas, _segment(centre, height * rng.uniform(0.6, 1.2), rng.uniform(45, 68)), pen)
    elif symbol == "*":
        length, start = height * rng.uniform(0.25, 0.55), rng.uniform(0, 60)
        arms = int(rng.integers(3, 5))
        for k in range(arms):
            _pen_line(canvas, _segment(centre, length, start + k * 180 / arms + rng.uniform(-8, 8)), pen)
    elif symbol == "#":
        size, slant = height * rng.uniform(0.45, 0.8), rng.uniform(65, 90)
        gap = size * rng.uniform(0.3, 0.5)
        for offset in (-gap / 2, gap / 2):
            _pen_line(canvas, _segment(centre + [offset, 0], size, slant), pen)
            _pen_line(canvas, _segment(centre + [0, offset], size, rng.uniform(-8, 8)), pen)
    elif symbol == STROKE:
        # A tick, a hook or a loose curve: a few points joined by a smooth line.
        count = int(rng.integers(3, 6))
        span = height * rng.uniform(0.2, 0.9)
        steps = rng.normal(0.0, 1.0, size=(count, 2)) * span / 2
        points = centre + np.cumsum(steps, axis=0) - steps.sum(axis=0) / 2
        dense = cv2.resize(points.astype(np.float32)[None], (count * 6, 1), interpolation=cv2.INTER_LINEAR)[0]
        _pen_line(canvas, np.clip(dense, 0, canvas.shape[0] - 1), pen)
    else:
        raise ValueError(f"no way to draw {symbol!r}; marks are {MARKS!r} and {STROKE!r}")
    return canvas


DRAWN_SYMBOLS: tuple[str, ...] = (*[m for m in MARKS if m != "$"], STROKE)


def pen_digit_crops(count: int, rng: np.random.Generator) -> Crops:
    """``count`` digits drawn along the stroke skeletons of training/pen_digits.py, the
    digits in equal shares."""
    digits = rng.integers(len(DIGITS), size=count)
    images = [normalize_glyph(pen_digits.draw_digit(DIGITS[k], rng)) for k in digits]
    return Crops(as_uint8(images), np.array([class_of(DIGITS[k]) for k in digits], np.uint8))


def drawn_crops(count: int, rng: np.random.Generator) -> Crops:
    """``count`` drawn marks and strokes (the marks in equal shares; ``$`` only from fonts)."""
    symbols = rng.choice(len(DRAWN_SYMBOLS), size=count)
    images = [normalize_glyph(draw_mark(DRAWN_SYMBOLS[k], rng)) for k in symbols]
    labels = np.array([class_of(DRAWN_SYMBOLS[k]) for k in symbols], np.uint8)
    return Crops(as_uint8(images), labels)


@dataclass(frozen=True)
class Mix:
    """The clean crops an epoch draws from, and how many of each it draws."""

    mnist: Crops
    uci: Crops
    fonts: Crops
    uci_per_epoch: int
    font_digits_per_epoch: int
    marks_per_epoch: int
    pen_digits_per_epoch: int = 0

    def sizes(self) -> dict[str, int]:
        """How many crops of each source one epoch holds."""
        return {"mnist": len(self.mnist), "uci": self.uci_per_epoch, "font digits": self.font_digits_per_epoch,
                "marks": self.marks_per_epoch, "pen digits": self.pen_digits_per_epoch}


def _draw(crops: Crops, count: int, rng: np.random.Generator, where: Callable[[np.ndarray], np.ndarray]) -> Crops:
    pool = np.flatnonzero(where(crops.labels))
    return crops.take(rng.choice(pool, size=count, replace=len(pool) < count))


CROSSED_SEVENS = 0.25


def cross_sevens(crops: Crops, rng: np.random.Generator, share: float = CROSSED_SEVENS) -> Crops:
    """``crops`` with a ``share`` of their 7s given the bar across the stem that much of
    Europe and Latin America writes and MNIST lacks."""
    images = crops.images.copy()
    sevens = np.flatnonzero(crops.labels == class_of("7"))
    for index in sevens[rng.random(sevens.size) < share]:
        row = int(rng.integers(12, 17))
        ink = np.flatnonzero(images[index, row] > 96)
        if ink.size == 0:
            continue
        middle, half = float(ink.mean()) + rng.uniform(-1, 1), rng.uniform(3.0, 6.0)
        width = max(1, int(np.round((images[index] > 96).sum(axis=0).max() / 10)))
        points = np.array([[middle - half, row + rng.uniform(-1, 1)], [middle + half, row + rng.uniform(-1, 1)]])
        canvas = images[index].astype(np.float32) / 255.0
        _pen_line(canvas, points, min(width, 3))
        images[index] = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    return Crops(images, crops.labels)


def epoch_crops(mix: Mix, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's shuffled, augmented crops (N, 28, 28, 1) float32 and class columns (N,):
    a pure function of its arguments."""
    rng = np.random.default_rng([seed, epoch, 2])
    font_digits = _draw(mix.fonts, mix.font_digits_per_epoch, rng, lambda y: y < len(DIGITS))
    font_marks = _draw(mix.fonts, mix.marks_per_epoch // 2, rng, lambda y: y >= len(DIGITS))
    drawn = drawn_crops(mix.marks_per_epoch - mix.marks_per_epoch // 2, rng)
    uci = _draw(mix.uci, mix.uci_per_epoch, rng, lambda y: y >= 0)
    pen = pen_digit_crops(mix.pen_digits_per_epoch, rng)
    mnist_part, font_digits = cross_sevens(mix.mnist, rng), cross_sevens(font_digits, rng)
    parts = [
        augment.augment_batch(mnist_part.images, [seed, epoch, 1]),
        augment.augment_batch(uci.images, [seed, epoch, 3]),
        augment.augment_batch(font_digits.images, [seed, epoch, 4], FONT_AUGMENT),
        augment.augment_batch(font_marks.images, [seed, epoch, 5], FONT_AUGMENT),
        augment.augment_batch(drawn.images, [seed, epoch, 6], MARK_AUGMENT),
        augment.augment_batch(pen.images, [seed, epoch, 13], PEN_AUGMENT),
    ]
    x = np.concatenate(parts)
    y = np.concatenate([mix.mnist.labels, uci.labels, font_digits.labels, font_marks.labels, drawn.labels,
                        pen.labels])
    order = np.random.default_rng([seed, epoch, 0]).permutation(len(y))
    return x[order][..., None], y[order].astype(np.int64)


def validation_crops(mix_val: Mix, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The validation set: MNIST's held-out digits and the held-out real digits as they are,
    plus augmented crops of the training fonts and marks (a fixed draw, never trained on)."""
    rng = np.random.default_rng([seed, 7])
    font_digits = _draw(mix_val.fonts, mix_val.font_digits_per_epoch, rng, lambda y: y < len(DIGITS))
    font_marks = _draw(mix_val.fonts, mix_val.marks_per_epoch // 2, rng, lambda y: y >= len(DIGITS))
    drawn = drawn_crops(mix_val.marks_per_epoch - mix_val.marks_per_epoch // 2, rng)
    pen = pen_digit_crops(mix_val.pen_digits_per_epoch, rng)
    parts = [
        mix_val.mnist.images.astype(np.float32) / 255.0,
        mix_val.uci.images.astype(np.float32) / 255.0,
        augment.augment_batch(font_digits.images, [seed, 8], FONT_AUGMENT),
        augment.augment_batch(font_marks.images, [seed, 9], FONT_AUGMENT),
        augment.augment_batch(drawn.images, [seed, 10], MARK_AUGMENT),
        augment.augment_batch(pen.images, [seed, 14], PEN_AUGMENT),
    ]
    y = np.concatenate([mix_val.mnist.labels, mix_val.uci.labels, font_digits.labels, font_marks.labels, drawn.labels,
                        pen.labels])
    return np.concatenate(parts)[..., None], y.astype(np.int64)


def held_out_font_crops(seed: int = 20261201, per_symbol: int = 3) -> Crops:
    """The test of unseen styles: the held-out fonts' digits, each rendered at every size
    and augmented ``per_symbol`` times with a fixed seed (digits only: the figure the
    model card reports is digit accuracy)."""
    clean = font_crops(font_files.held_out_fonts(), symbols=DIGITS)
    repeated = clean.take(np.repeat(np.arange(len(clean)), per_symbol))
    images = augment.augment_batch(repeated.images, [seed, 11], FONT_AUGMENT)
    return Crops(as_uint8(images), repeated.labels)


def split(crops: Crops, share: float, seed: int) -> tuple[Crops, Crops]:
    """``crops`` parted at random into (rest, held out ``share``)."""
    order = np.random.default_rng([seed, 12]).permutation(len(crops))
    cut = int(round(len(crops) * share))
    return crops.take(order[cut:]), crops.take(order[:cut])




def contact_sheet(out: Path, size: int = 40) -> Path:
    """A PNG of every face's digits and marks as rendered (before augmentation), held-out
    faces marked, to check by eye which styles are in (the flagged 1, the barred 7, the
    open 4)."""
    from PIL import Image, ImageDraw, ImageFont

    paths = font_files.fetch()
    row_height, width = int(size * 1.6), size * 22
    sheet = Image.new("L", (width, row_height * len(font_files.FONTS)), 255)
    draw = ImageDraw.Draw(sheet)
    for index, face in enumerate(font_files.FONTS):
        top = index * row_height
        font = ImageFont.truetype(str(paths[face.name]), size)
        draw.text((4, top + 4), " ".join(FONT_SYMBOLS[:10]) + "  " + " ".join(MARKS), font=font, fill=0)
        draw.text((width - size * 6, top + row_height // 2),
                  face.name + ("  (held out)" if face.held_out else ""), fill=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "training-fonts.png"
    print(f"contact sheet of the {len(font_files.FONTS)} fonts: {contact_sheet(target)}")
