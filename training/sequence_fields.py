"""The sequence reader's training data: whole fields written, scanned and cleaned, made on the fly.

Each field is a string of 1 to 12 digits, often with the separators and end marks of
amounts and dates (``1.500,00``, ``300.-``, ``12/05``), written glyph by glyph in one
hand from one source: MNIST training digits (the digit model's validation digits held
out), the training handwriting fonts, digits drawn along stroke skeletons
(training/pen_digits.py) or the vendored UCI bitmaps of real writers (semeion and
optdigits, never optdigits' ``windep``). The
glyphs touch, overlap or stand wide apart; a cursive hand joins them with run-on strokes;
the ink bends (an elastic distortion); the line slants and its baseline drifts;
stray strokes, rules and frame remnants, security patterns, blur, noise and JPEG are
laid over it as a scan would. The field's grey image then goes through
``docproc.glyphs.line_image``, the function the reader's input comes from at run time,
so training sees fields exactly as docproc prepares them.

The label is the field's symbols left to right, marks included (the alphabet is
``docproc.recognize.classes.SEQUENCE_SYMBOLS``); stray strokes and rules have no label.
Each batch of fields is a pure function of (seed, epoch, index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from docproc.datasets import fonts as font_files
from docproc.datasets import mnist, uci_digits
from docproc.glyphs.line_image import line_image
from docproc.recognize.classes import DIGITS, STROKE
from training import pen_digits, sources

MAX_DIGITS = 12
# Where each field's digits come from (shares of the fields).
# The UCI bitmaps are the only real writers outside MNIST (about 110 of them), so they
# get a larger share than their count alone would give.
SOURCE_SHARES = {"mnist": 0.35, "pen": 0.25, "font": 0.25, "uci": 0.15}
# How the glyphs of a field are spaced, relative to the digit height: touching and
# overlapping, as most people write, or wide apart.
GAPS = {"touching": ((-0.12, 0.02), 0.3), "normal": ((0.02, 0.3), 0.5), "wide": ((0.3, 1.1), 0.2)}
# Cursive hands run on from one digit into the next: the share of fields written joined
# (from the sources whose glyphs are handwriting) and of their digit pairs that are joined.
JOINED_SOURCES = ("mnist", "pen", "uci")
JOINED_SHARE = 0.3
JOIN_PAIR = 0.6
# The share of fields whose ink is bent by an elastic distortion.
ELASTIC_SHARE = 0.4


@dataclass(frozen=True)
class SequenceSources:
    """The glyph sources fields are written from: MNIST digits (uint8 28x28) and their
    labels, the UCI bitmaps (0/1, 32x32) and labels, and the font files."""

    mnist_images: np.ndarray
    mnist_labels: np.ndarray
    uci_images: np.ndarray
    uci_labels: np.ndarray
    fonts: tuple[Path, ...]
    shares: dict[str, float] = field(default_factory=lambda: dict(SOURCE_SHARES))  # of SOURCE_SHARES' keys


def _uci_bitmaps() -> tuple[np.ndarray, np.ndarray]:
    """The UCI training bitmaps (semeion, optdigits ``tra`` and ``cv``; never ``windep``),
    all at optdigits' 32x32: semeion's 16x16 pixels doubled."""
    bitmaps = sources.uci_training_bitmaps()
    scales = [uci_digits.OPTDIGITS_SIZE // one.images.shape[1] for one in bitmaps]
    return (np.concatenate([one.images.repeat(k, axis=1).repeat(k, axis=2) for one, k in zip(bitmaps, scales)]),
            np.concatenate([one.labels for one in bitmaps]))


def load_sources(mnist_split: mnist.Split, fonts: tuple[font_files.Font, ...]) -> SequenceSources:
    """The sources for ``mnist_split``'s digits and the given faces, with the UCI training
    bitmaps (optdigits' writer-independent test file is never among them)."""
    paths = font_files.fetch(fonts)
    return SequenceSources(mnist_split.images, mnist_split.labels, *_uci_bitmaps(),
                           tuple(paths[face.name] for face in fonts))


def random_text(rng: np.random.Generator) -> str:
    """A field's symbols: 1 to 12 digits (short ones more often), as an amount with
    separators, a date, or plain digits, sometimes with an end mark."""
    count = int(min(MAX_DIGITS, max(1, round(rng.gamma(2.2, 2.2)))))
    digits = "".join(DIGITS[int(d)] for d in rng.integers(0, 10, size=count))
    style = rng.random()
    if style < 0.35 or count < 2:
        text = digits
    elif style < 0.6:  # thousands grouped: 1.500.000
        mark = "." if rng.random() < 0.7 else ","
        head = count % 3 or 3
        text = digits[:head] + "".join(mark + digits[i : i + 3] for i in range(head, count, 3))
    elif style < 0.8:  # cents: 150,00
        mark = "," if rng.random() < 0.6 else "."
        cents = min(2, count - 1)
        text = digits[:-cents] + mark + digits[-cents:]
    elif style < 0.9 and count >= 3:  # a date or a reference: 12/05/26, 12-05
        mark = "/" if rng.random() < 0.6 else "-"
        cuts = sorted(rng.choice(np.arange(1, count), size=min(2, count - 1), replace=False))
        parts = np.split(np.array(list(digits)), cuts)
        text = mark.join("".join(p) for p in parts)
    else:
        text = digits
    end = rng.random()
    if end < 0.12:
        text += "-"
    elif end < 0.18:
        text += ".-"
    elif end < 0.24:
        text += "="
    elif end < 0.27:
        text = "*" + text + "*"
    elif end < 0.29:
        text = "#" + text
    elif end < 0.31:
        text = "$" + text
    return text


def _ink_box(ink: np.ndarray, level: float = 0.1) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.max(axis=1) > level), np.flatnonzero(ink.max(axis=0) > level)
    if rows.size == 0:
        return np.zeros((1, 1), np.float32)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _scaled(ink: np.ndarray, height: float) -> np.ndarray:
    h, w = ink.shape
    size = (max(1, int(round(w * height / h))), max(1, int(round(height))))
    resize = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    return np.clip(cv2.resize(ink.astype(np.float32), size, interpolation=resize), 0, 1)


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> object:
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


def _font_symbol(path: Path, symbol: str, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (size * 3, size * 3), 0)
    ImageDraw.Draw(canvas).text((size, size), symbol, font=_font(str(path), size), fill=255)
    return _ink_box(np.asarray(canvas, np.float32) / 255.0)


def _digit_glyph(source: str, digit: str, srcs: SequenceSources, font: Path, rng: np.random.Generator) -> np.ndarray:
    """One digit's ink, cropped to its box, at its source's own size."""
    if source == "mnist":
        pool = np.flatnonzero(srcs.mnist_labels == int(digit))
        return _ink_box(srcs.mnist_images[rng.choice(pool)].astype(np.float32) / 255.0)
    if source == "uci":
        pool = np.flatnonzero(srcs.uci_labels == int(digit))
        bitmap = srcs.uci_images[rng.choice(pool)].astype(np.float32)
        return _ink_box(cv2.GaussianBlur(cv2.resize(bitmap, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST), (3, 3), 0.8))
    if source == "pen":
        return _ink_box(pen_digits.draw_digit(digit, rng))
    return _font_symbol(font, digit, 64)


def _mark_centre(symbol: str, rng: np.random.Generator) -> float:
    """Where a mark's middle sits against digits of height 1 from their top (baseline 1)."""
    if symbol == ".":
        return rng.uniform(0.85, 1.0)
    if symbol == ",":
        return rng.uniform(0.95, 1.1)
    if symbol == "-":
        return rng.uniform(0.35, 0.8)
    if symbol == "=":
        return rng.uniform(0.35, 0.65)
    if symbol in "*#":
        return rng.uniform(0.2, 0.6)
    return rng.uniform(0.4, 0.6)  # / and $


def _font_scale(font: Path, height: float) -> float:
    """The factor that makes the font's digits (rendered at 64 px) ``height`` tall."""
    return height / max(1, _font_symbol(font, "0", 64).shape[0])


def _mark_glyph(symbol: str, height: float, font: Path | None, rng: np.random.Generator) -> np.ndarray:
    """A mark's ink beside digits ``height`` tall: from the field's font (always for
    ``$``, which no pen drawing makes) or drawn by a pen."""
    if font is not None and (symbol == "$" or rng.random() < 0.5):
        raw = _font_symbol(font, symbol, 64)
        return _scaled(raw, max(2.0, raw.shape[0] * _font_scale(font, height) * rng.uniform(0.85, 1.15)))
    return _ink_box(sources.draw_mark(symbol, rng, height))


def write_line(text: str, srcs: SequenceSources, rng: np.random.Generator) -> np.ndarray:
    """``text`` written in one hand as ink (float32, ink high), digits about 20 to 60 px tall."""
    source = rng.choice(list(srcs.shares), p=list(srcs.shares.values()))
    font = srcs.fonts[int(rng.integers(len(srcs.fonts)))]
    mark_font = font if source == "font" else (srcs.fonts[int(rng.integers(len(srcs.fonts)))] if "$" in text else None)
    height = float(rng.uniform(20, 60))
    (low, high), _ = GAPS[rng.choice(list(GAPS), p=[share for _, share in GAPS.values()])]
    drift, wobble = rng.uniform(-0.06, 0.06), rng.uniform(0.0, 0.06)
    placed: list[tuple[np.ndarray, int, int]] = []
    x = 0.0
    for index, symbol in enumerate(text):
        baseline = height * (1.0 + drift * index + rng.normal(0.0, wobble))
        if symbol in DIGITS:
            glyph = _scaled(_digit_glyph(source, symbol, srcs, font, rng), height * rng.uniform(0.85, 1.1))
            top = baseline - glyph.shape[0]
        else:
            glyph = _mark_glyph(symbol, height, mark_font if symbol == "$" or source == "font" else None, rng)
            top = baseline - height + _mark_centre(symbol, rng) * height - glyph.shape[0] / 2
        gap = rng.uniform(low, high) * height if index else 0.0
        if symbol in ".," or (index and text[index - 1] in ".,"):
            gap = max(gap, rng.uniform(0.0, 0.15) * height)  # a dot is rarely written into a digit
        x += gap
        placed.append((glyph, int(round(x)), int(round(top))))
        x += glyph.shape[1]
    left = min(px for _, px, _ in placed)
    top_all = min(py for _, _, py in placed)
    width = max(px + g.shape[1] for g, px, _ in placed) - left
    tall = max(py + g.shape[0] for g, _, py in placed) - top_all
    ink = np.zeros((tall, width), np.float32)
    for glyph, px, py in placed:
        region = ink[py - top_all : py - top_all + glyph.shape[0], px - left : px - left + glyph.shape[1]]
        np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
    if source in JOINED_SOURCES and rng.random() < JOINED_SHARE:
        at = [(glyph, px - left, py - top_all) for glyph, px, py in placed]
        for index in range(len(text) - 1):
            if text[index] in DIGITS and text[index + 1] in DIGITS and rng.random() < JOIN_PAIR:
                _ligature(ink, at[index], at[index + 1], rng)
    return ink


def _pen_width(glyph: np.ndarray) -> float:
    """The width of the pen a glyph was written with: across a stroke of width w the
    distance to the paper runs evenly from 0 to w / 2, so its median is about w / 4."""
    solid = (glyph > 0.5).astype(np.uint8)
    if not solid.any():
        return 1.0
    inside = cv2.distanceTransform(np.pad(solid, 1), cv2.DIST_L2, 3)[1:-1, 1:-1][solid > 0]
    return float(max(1.0, 4.0 * np.median(inside)))


def _ligature(ink: np.ndarray, left: tuple[np.ndarray, int, int], right: tuple[np.ndarray, int, int],
              rng: np.random.Generator) -> None:
    """A joining stroke drawn into ``ink``, as a cursive hand runs on from one digit into
    the next: rising from the right edge of ``left``'s ink low down, where a digit ends, to
    the left edge of ``right``'s high up, where the next begins, sagging a little (a level
    join would pass for a dash)."""
    ends = []
    for (glyph, x, y), low, high, rightmost in ((left, 0.65, 1.0, True), (right, 0.0, 0.5, False)):
        rows = np.arange(int(glyph.shape[0] * low), max(int(glyph.shape[0] * low) + 1, int(glyph.shape[0] * high)))
        rows = rows[(glyph[rows] > 0.5).any(axis=1)] if rows.size else rows
        if rows.size == 0:
            return
        row = int(rng.choice(rows))
        cols = np.flatnonzero(glyph[row] > 0.5)
        ends.append(np.array([x + (cols[-1] if rightmost else cols[0]), y + row], np.float64))
    start, end = ends
    if end[0] - start[0] > 0.8 * ink.shape[0] or end[1] > start[1]:
        return  # digits this far apart are not joined, and a join rises into the next digit
    sag = rng.uniform(0.0, 0.2) * (end[0] - start[0])
    middle = (start + end) / 2 + [0.0, sag]
    t = np.linspace(0.0, 1.0, 24)[:, None]
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * middle + t**2 * end
    pen = _pen_width(left[0]) * rng.uniform(0.4, 0.9)  # a run-on stroke is drawn fast and thin
    stroke = np.zeros_like(ink)
    points = np.round(curve * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(stroke, [points], False, 1.0, max(1, round(pen)), cv2.LINE_AA, 4)
    np.maximum(ink, stroke * rng.uniform(0.7, 1.0), out=ink)


def _elastic(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ink bent by a smooth random displacement (Simard et al., 2003), at the scale of
    a digit's parts: no two hands draw a loop or a tail the same."""
    sigma = ink.shape[0] * rng.uniform(0.08, 0.16)
    alpha = ink.shape[0] * rng.uniform(0.02, 0.07)
    padded = np.pad(ink, int(np.ceil(alpha)) + 1)  # room for ink pushed past the edge
    shifts = []
    for _ in range(2):
        field = cv2.GaussianBlur(rng.uniform(-1, 1, padded.shape).astype(np.float32), (0, 0), sigma)
        shifts.append(field / max(1e-6, float(np.abs(field).max())) * alpha)
    ys, xs = np.indices(padded.shape, dtype=np.float32)
    return cv2.remap(padded, xs + shifts[0], ys + shifts[1], cv2.INTER_LINEAR)


def _slanted(ink: np.ndarray, shear: float) -> np.ndarray:
    """The ink sheared: its top moved ``shear`` times its height to the right of its foot."""
    height, width = ink.shape
    matrix = np.float32([[1, -shear, shear * height if shear > 0 else 0.0], [0, 1, 0]])
    return cv2.warpAffine(ink, matrix, (width + int(np.ceil(abs(shear) * height)) + 2, height), flags=cv2.INTER_LINEAR)


def _stroke_width(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    choice = rng.random()
    kernel = np.ones((2, 2), np.uint8) if ink.shape[0] < 50 else np.ones((3, 3), np.uint8)
    if choice < 0.2:
        return cv2.dilate(ink, kernel)
    if choice < 0.3 and ink.shape[0] > 30:
        return cv2.erode(ink, np.ones((2, 2), np.uint8))
    return ink


def _security(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    ys, xs = np.indices(shape, dtype=np.float32)
    period = rng.uniform(5, 24)
    bend, tilt = rng.uniform(0, 10), rng.uniform(-1.5, 1.5)
    wave = 0.5 + 0.5 * np.sin((xs + bend * np.sin(ys / rng.uniform(8, 30))) / period * 2 * np.pi + tilt * ys / period)
    return np.clip((wave - rng.uniform(0.6, 0.9)) * 6, 0, 1).astype(np.float32)


def scan_field(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The written ``ink`` on a field of paper as a scanner delivers it: grey uint8, with
    margins, a background, perhaps rules, a frame and stray strokes, blur, noise, JPEG."""
    height = ink.shape[0]
    top, bottom = (int(height * rng.uniform(0.08, 0.6)) + 2 for _ in range(2))
    left, right = (int(height * rng.uniform(0.05, 1.0)) + 2 for _ in range(2))
    canvas = np.zeros((height + top + bottom, ink.shape[1] + left + right), np.float32)
    canvas[top : top + height, left : left + ink.shape[1]] = ink
    shape = canvas.shape
    printed = np.zeros(shape, np.float32)
    thickness = max(1, int(round(height * rng.uniform(0.02, 0.06))))
    if rng.random() < 0.35:  # the line the amount is written on, often through the writing's foot
        y = int(top + height * rng.uniform(0.85, 1.15))
        cv2.line(printed, (0, y), (shape[1], y), 1.0, thickness)
    if rng.random() < 0.15:  # the box printed around the field, part of it in the crop
        x0, y0 = int(rng.integers(0, max(1, left // 2 + 1))), int(rng.integers(0, max(1, top // 2 + 1)))
        x1 = shape[1] - 1 - int(rng.integers(0, max(1, right // 2 + 1)))
        y1 = shape[0] - 1 - int(rng.integers(0, max(1, bottom // 2 + 1)))
        cv2.rectangle(printed, (x0, y0), (x1, y1), 1.0, thickness)
    if rng.random() < 0.15:  # a stray stroke: a tick, a flourish, part of another field's writing
        stroke = _scaled(_ink_box(sources.draw_mark(STROKE, rng, height)), height * rng.uniform(0.3, 1.0))
        sy = int(rng.integers(0, max(1, shape[0] - stroke.shape[0])))
        # Before the writing or after it, overlapping it by at most half its own width.
        at_end = max(0, shape[1] - right - stroke.shape[1] // 2)
        sx = int(rng.integers(0, max(1, left))) if rng.random() < 0.5 else int(rng.integers(at_end, at_end + right + 1))
        region = canvas[sy : sy + stroke.shape[0], sx : sx + stroke.shape[1]]
        np.maximum(region, stroke[: region.shape[0], : region.shape[1]], out=region)
    paper = rng.uniform(175, 250)
    # Pen and pattern stay apart enough that a person reads the writing: a field no one
    # could read teaches nothing.
    pen_level = rng.uniform(5, min(120.0, paper - 80))
    page = np.full(shape, paper, np.float32)
    page *= 1.0 + np.linspace(-1, 1, shape[1])[None, :] * rng.uniform(-0.06, 0.06)
    if rng.random() < 0.5:
        page -= _security(shape, rng) * rng.uniform(10, min(55.0, 0.5 * (paper - pen_level)))
    page = page * (1 - printed) + rng.uniform(20, 110) * printed
    strength = canvas * rng.uniform(0.65, 1.0)
    page = page * (1 - strength) + pen_level * strength
    sigma = rng.uniform(0.0, 1.3)
    if sigma > 0.3:
        page = cv2.GaussianBlur(page, (0, 0), sigma)
    page += rng.normal(0.0, rng.uniform(0, 9), shape)
    if rng.random() < 0.3:  # scanned at a lower resolution than the writing's size suggests
        factor = rng.uniform(0.4, 0.8)
        small = cv2.resize(page, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        page = small if rng.random() < 0.5 else cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    grey = np.clip(page, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 90))])
        grey = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    return grey


def make_field(srcs: SequenceSources, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One generated field: its grey scan (uint8) and its symbols."""
    text = random_text(rng)
    ink = write_line(text, srcs, rng)
    if rng.random() < ELASTIC_SHARE:
        ink = _elastic(ink, rng)
    ink = _stroke_width(ink, rng)
    ink = _slanted(ink, float(rng.uniform(-0.3, 0.4)))
    return scan_field(_ink_box(ink, 0.05), rng), text


def make_lines(srcs: SequenceSources, count: int, seed: list[int]) -> tuple[list[np.ndarray], list[str]]:
    """``count`` generated fields as the reader's input lines and their symbols: a pure
    function of ``seed``. A field whose writing the cleaning lost entirely is drawn again."""
    rng = np.random.default_rng(seed)
    lines, texts = [], []
    while len(lines) < count:
        grey, text = make_field(srcs, rng)
        line = line_image(grey)
        if line.max() <= 0:
            continue
        lines.append(line)
        texts.append(text)
    return lines, texts
