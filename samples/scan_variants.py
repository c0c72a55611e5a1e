"""Ways scanners and archives deliver a page: a scanner bed around it, a tilt beyond what a
feeder allows, a page fed upside down or sideways, a bitonal archive image. Each takes a
generated grey page (uint8) and a generator, and returns the scan: grey uint8, or, for
the bitonal ones, bool (True where the paper is white), to be stored as CCITT G4 TIFF."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image


def scanner_bed(page: np.ndarray, rng: np.random.Generator, low: int = 25, high: int = 60) -> np.ndarray:
    """The page on a dark scanner bed: a border of ``low`` to ``high`` pixels on each
    side (each side its own), dark grey with noise, the paper's edge a little shadowed."""
    top, bottom, left, right = (int(v) for v in rng.integers(low, high + 1, size=4))
    level = float(rng.uniform(8, 45))
    height, width = page.shape[:2]
    shape = (height + top + bottom, width + left + right) + page.shape[2:]
    bed = np.clip(rng.normal(level, 4, shape), 0, 255).astype(np.uint8)
    bed[top : top + height, left : left + width] = page
    return bed


def tilted(page: np.ndarray, rng: np.random.Generator, low: float = 4.5, high: float = 7.0,
           fill: tuple[float, ...] | None = None, whole: bool = False) -> np.ndarray:
    """The page turned by ``low`` to ``high`` degrees, either way. As a sheet feeder
    stores it, the scan keeps the page's size (the corners turned out of it are lost,
    those turned in are ``fill``, the paper's own colour by default); ``whole``: on a
    canvas that holds all of the page, as a flatbed does."""
    angle = float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))
    height, width = page.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    out_w, out_h = width, height
    if whole:
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        out_w, out_h = int(np.ceil(width * cos + height * sin)), int(np.ceil(width * sin + height * cos))
        matrix[:, 2] += ((out_w - width) / 2, (out_h - height) / 2)
    border = fill if fill is not None else tuple(float(v) for v in np.atleast_1d(page[2, 2]))
    return cv2.warpAffine(page, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border)


def upside_down(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The page fed upside down."""
    return np.ascontiguousarray(page[::-1, ::-1])


def tilted_on_bed(page: np.ndarray, rng: np.random.Generator, low: float = 4.5, high: float = 7.0) -> np.ndarray:
    """A page tilted ``low`` to ``high`` degrees, whole, on a dark scanner bed (a flatbed)."""
    fill = (20.0,) * (page.shape[2] if page.ndim == 3 else 1)
    return scanner_bed(tilted(page, rng, low, high, fill=fill, whole=True), rng)


def bitonal(page: np.ndarray, rng: np.random.Generator, dithered: bool = True) -> np.ndarray:
    """The page as a bitonal archive stores it: Floyd-Steinberg dithered (grey becomes
    dot density), or thresholded at mid-grey."""
    dither = Image.Dither.FLOYDSTEINBERG if dithered else Image.Dither.NONE
    return np.array(Image.fromarray(page).convert("1", dither=dither), bool)


def jpeg(page: np.ndarray, rng: np.random.Generator, quality: int = 15) -> np.ndarray:
    """The page through a JPEG of low quality."""
    ok, encoded = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def resampled(page: np.ndarray, rng: np.random.Generator, factor: float = 0.75) -> np.ndarray:
    """The page scanned at ``factor`` times its resolution (0.75: 150 dpi for 200)."""
    height, width = page.shape[:2]
    return cv2.resize(page, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)


def punch_holes(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two filing holes punched near the left edge, dark where the bed shows through."""
    height, width = page.shape[:2]
    out = page.copy()
    radius = max(4, int(0.025 * height))
    x = int(rng.uniform(0.02, 0.04) * width) + radius
    for y in (int(0.3 * height), int(0.7 * height)):
        cv2.circle(out, (x, y + int(rng.integers(-5, 6))), radius, int(rng.uniform(10, 60)), -1, cv2.LINE_AA)
    return out


def staple_shadow(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A staple, and the shadow the page lifted by it casts, at the top left corner."""
    height, width = page.shape[:2]
    out = page.astype(np.float32)
    shadow = np.zeros(page.shape[:2], np.float32)
    cv2.line(shadow, (int(0.01 * width), int(0.06 * height)), (int(0.06 * width), int(0.01 * height)), 1.0,
             max(3, height // 40))
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(2.0, height / 60))
    out *= 1.0 - 0.6 * shadow / max(float(shadow.max()), 1e-6)
    cv2.line(out, (int(0.02 * width), int(0.05 * height)), (int(0.05 * width), int(0.02 * height)), 40.0, 2)
    return np.clip(out, 0, 255).astype(np.uint8)


def rescaled(page: np.ndarray, rng: np.random.Generator, low: float = 0.92, high: float = 0.97) -> np.ndarray:
    """The page's content scaled by ``low`` to ``high`` about its centre, the page's size
    kept (a copy reduced or enlarged on a copier, a form printed to fit another paper)."""
    scale = float(rng.uniform(low, high))
    height, width = page.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
    border = tuple(float(v) for v in np.atleast_1d(page[2, 2]))
    return cv2.warpAffine(page, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border)


def faint_carbon(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A carbon copy: the ink (and print) at a third to a half of its strength."""
    paper = float(np.percentile(page, 90))
    strength = float(rng.uniform(0.33, 0.5))
    return np.clip(paper - (paper - page.astype(np.float32)) * strength, 0, 255).astype(np.uint8)


def several_on_a_bed(pages: list[np.ndarray], rng: np.random.Generator, max_tilt: float = 3.0) -> np.ndarray:
    """Grey pages laid on one flatbed scan one under another, as cheques are laid on a
    page-sized bed: each turned by up to ``max_tilt`` degrees either way and set in from
    the left by its own margin, on a dark bed with noise. The pages are in the scan's
    reading order (docproc's parts 1, 2, ...)."""
    level = float(rng.uniform(8, 45))
    placed = [tilted(page, rng, 0.0, max_tilt, fill=(level,), whole=True) for page in pages]
    lefts = [int(rng.integers(20, 160)) for _ in placed]
    gaps = [int(rng.integers(40, 120)) for _ in range(len(placed) + 1)]
    width = max(left + piece.shape[1] for left, piece in zip(lefts, placed)) + int(rng.integers(20, 160))
    height = sum(piece.shape[0] for piece in placed) + sum(gaps)
    bed = np.clip(rng.normal(level, 4, (height, width)), 0, 255).astype(np.uint8)
    top = gaps[0]
    for piece, left, gap in zip(placed, lefts, gaps[1:]):
        h, w = piece.shape
        bed[top : top + h, left : left + w] = piece  # its corners turned in are the bed's level
        top += h + gap
    return bed


VARIANTS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "as generated": lambda page, rng: page,
    "black scanner border, 25-60 px": scanner_bed,
    "tilted 4.5-7 degrees (page size kept, corners lost)": tilted,
    "tilted 10-15 degrees (page size kept, corners lost)": lambda page, rng: tilted(page, rng, 10.0, 15.0),
    "tilted 4.5-7 degrees, whole, on a black bed": tilted_on_bed,
    "tilted 10-15 degrees, whole, on a black bed": lambda page, rng: tilted_on_bed(page, rng, 10.0, 15.0),
    "upside down": upside_down,
    "sideways (90 or 270 degrees)": lambda page, rng: np.ascontiguousarray(np.rot90(page, int(rng.choice([1, 3])))),
    "bitonal G4, dithered": bitonal,
    "bitonal G4, thresholded": lambda page, rng: bitonal(page, rng, dithered=False),
    "JPEG quality 15": jpeg,
    "150 dpi": resampled,
    "400 dpi": lambda page, rng: resampled(page, rng, 2.0),
    "punch holes": punch_holes,
    "staple and its shadow": staple_shadow,
    "faint carbon copy": faint_carbon,
    # Stored as a PDF of one CCITT G4 image (benchmarks.scan_variants: the names ending so).
    "bitonal G4, dithered, in a PDF": bitonal,
    "reduced copy, 92-97%": rescaled,
    "enlarged copy, 103-106%": lambda page, rng: rescaled(page, rng, 1.03, 1.06),
}
# The variants a benchmark stores as PDF pages rather than as images.
IN_A_PDF = "in a PDF"
