"""Digits drawn with a pen along stroke skeletons, in the styles real amounts are written in.

MNIST, the UCI digits and the fonts are short of the shapes cheque writers outside the
United States use: the 1 with a long flag (read as a 7), the 0 written small, wide and in
one loop with an entry or exit tail (read as a 2 or an 8), the 2 with a loop at its foot
or a closed top, the open 4 written like an ``h``, the 5 written in one stroke, the 9 with
a straight or a hooked tail. Each style here is a few strokes through control points in a
unit box (x right, y down); every draw moves each point at random, slants, stretches and
turns the whole, and renders it with a pen of random width, so no two digits are alike
and none is a copy of anyone's writing.

A stroke is drawn smooth (a Catmull-Rom spline through its points) or sharp (straight
segments, for corners such as the 7's and the 4's); a style's strokes that share a point
make one pen line with a corner there.

    python -m training.pen_digits      # docs/training-pen-digits.png: every style, to look at
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# (smooth, points): one pen stroke of a style.
Stroke = tuple[bool, tuple[tuple[float, float], ...]]
Style = tuple[Stroke, ...]

_ZERO_OVAL: Style = ((True, ((0.55, 0.02), (0.15, 0.2), (0.03, 0.6), (0.35, 0.98), (0.8, 0.9), (0.97, 0.5),
                             (0.8, 0.1), (0.5, 0.0), (0.35, 0.08))),)
_ZERO_EXIT_LOOP: Style = ((True, ((0.8, 0.2), (0.45, 0.0), (0.08, 0.3), (0.1, 0.75), (0.45, 1.0), (0.85, 0.8),
                                  (0.92, 0.35), (0.7, 0.1), (0.62, 0.2), (0.9, 0.12), (1.15, 0.05))),)
_ZERO_TAIL_DOWN: Style = ((True, ((0.9, 0.3), (0.55, 0.02), (0.12, 0.35), (0.25, 0.95), (0.75, 0.85),
                                  (0.9, 0.3), (0.95, 0.75), (1.1, 1.0))),)
_ZERO_ENTRY: Style = ((True, ((-0.2, 0.55), (0.2, 0.35), (0.6, 0.0), (0.95, 0.3), (0.8, 0.9), (0.3, 0.95),
                              (0.1, 0.5), (0.45, 0.05), (0.75, 0.1))),)

_ONE_BAR: Style = ((False, ((0.55, 0.0), (0.45, 1.0))),)
_ONE_FLAG: Style = ((False, ((0.2, 0.3), (0.6, 0.0), (0.5, 1.0))),)
_ONE_LONG_FLAG: Style = ((False, ((0.0, 0.5), (0.65, 0.0), (0.55, 1.0))),)
_ONE_FLAG_FOOT: Style = ((False, ((0.2, 0.25), (0.55, 0.0), (0.5, 1.0))), (False, ((0.15, 1.0), (0.85, 1.0))))
_ONE_CURVED_FLAG: Style = ((True, ((0.1, 0.35), (0.4, 0.15), (0.62, 0.0))), (False, ((0.62, 0.0), (0.5, 1.0))))

_TWO_PLAIN: Style = ((True, ((0.1, 0.25), (0.45, 0.0), (0.85, 0.2), (0.75, 0.5), (0.05, 1.0))),
                     (False, ((0.05, 1.0), (0.95, 1.0))))
_TWO_FOOT_LOOP: Style = ((True, ((0.1, 0.25), (0.45, 0.0), (0.85, 0.2), (0.7, 0.5), (0.18, 0.92), (0.05, 0.78),
                                 (0.3, 0.75), (0.45, 0.95), (0.95, 1.0))),)
_TWO_CLOSED_TOP: Style = ((True, ((0.35, 0.4), (0.08, 0.2), (0.45, 0.0), (0.88, 0.2), (0.75, 0.5), (0.1, 1.0),
                                  (0.5, 0.9), (0.98, 0.95))),)
_TWO_ANGULAR: Style = ((False, ((0.1, 0.1), (0.85, 0.05), (0.1, 1.0), (0.9, 1.0))),)

_THREE_ROUND: Style = ((True, ((0.1, 0.12), (0.5, 0.0), (0.85, 0.2), (0.45, 0.48))),
                       (True, ((0.45, 0.48), (0.9, 0.7), (0.5, 1.0), (0.05, 0.85))))
_THREE_FLAT_TOP: Style = ((False, ((0.1, 0.0), (0.85, 0.0), (0.4, 0.42))),
                          (True, ((0.4, 0.42), (0.9, 0.65), (0.5, 1.0), (0.05, 0.85))))

_FOUR_CLOSED: Style = ((False, ((0.65, 0.0), (0.05, 0.7), (0.95, 0.7))), (False, ((0.72, 0.25), (0.7, 1.0))))
_FOUR_OPEN: Style = ((False, ((0.15, 0.0), (0.05, 0.65), (0.92, 0.65))), (False, ((0.68, 0.2), (0.7, 1.0))))
_FOUR_H: Style = ((True, ((0.12, 0.0), (0.1, 0.55), (0.45, 0.65), (0.9, 0.45))), (False, ((0.7, 0.15), (0.68, 1.0))))
_FOUR_ONE_STROKE: Style = ((False, ((0.55, 0.0), (0.05, 0.65), (0.95, 0.62))),
                           (False, ((0.95, 0.62), (0.7, 0.6), (0.72, 0.2), (0.68, 1.0))))

_FIVE_PLAIN: Style = ((False, ((0.2, 0.0), (0.15, 0.45))),
                      (True, ((0.15, 0.45), (0.55, 0.35), (0.9, 0.65), (0.55, 1.0), (0.05, 0.9))),
                      (False, ((0.2, 0.0), (0.9, 0.0))))
_FIVE_ONE_STROKE: Style = ((True, ((0.25, 0.0), (0.15, 0.45), (0.6, 0.38), (0.9, 0.7), (0.5, 1.0), (0.05, 0.85))),
                           (False, ((0.3, 0.02), (0.95, -0.04))))
_FIVE_ROUND_TOP: Style = ((True, ((0.95, 0.0), (0.25, 0.05), (0.15, 0.45), (0.6, 0.38), (0.9, 0.7), (0.5, 1.0),
                                  (0.05, 0.85))),)

_SIX_PLAIN: Style = ((True, ((0.8, 0.0), (0.3, 0.2), (0.05, 0.7), (0.4, 1.0), (0.85, 0.8), (0.7, 0.5),
                             (0.3, 0.55), (0.1, 0.75))),)
_SIX_STRAIGHT: Style = ((True, ((0.65, 0.0), (0.2, 0.55), (0.3, 0.98), (0.8, 0.9), (0.75, 0.55), (0.25, 0.6))),)

_SEVEN_PLAIN: Style = ((False, ((0.05, 0.05), (0.95, 0.05), (0.4, 1.0))),)
_SEVEN_BAR: Style = ((False, ((0.05, 0.05), (0.95, 0.05), (0.4, 1.0))), (False, ((0.35, 0.5), (0.88, 0.48))))
_SEVEN_HOOK: Style = ((False, ((0.05, 0.25), (0.05, 0.05), (0.95, 0.05), (0.45, 1.0))),)
_SEVEN_CURVED: Style = ((False, ((0.05, 0.08), (0.95, 0.0))), (True, ((0.95, 0.0), (0.6, 0.45), (0.45, 1.0))))

_EIGHT_ONE_STROKE: Style = ((True, ((0.8, 0.12), (0.5, 0.0), (0.2, 0.15), (0.3, 0.38), (0.7, 0.6), (0.85, 0.85),
                                    (0.5, 1.0), (0.15, 0.85), (0.3, 0.6), (0.7, 0.38), (0.8, 0.12))),)
_EIGHT_TWO_LOOPS: Style = ((True, ((0.5, 0.45), (0.2, 0.25), (0.5, 0.0), (0.8, 0.22), (0.5, 0.45))),
                           (True, ((0.5, 0.45), (0.1, 0.72), (0.5, 1.0), (0.9, 0.72), (0.5, 0.45))))

_NINE_STRAIGHT: Style = ((True, ((0.85, 0.15), (0.45, 0.0), (0.1, 0.25), (0.4, 0.5), (0.85, 0.3))),
                         (False, ((0.85, 0.1), (0.75, 1.0))))
_NINE_HOOK: Style = ((True, ((0.85, 0.15), (0.45, 0.0), (0.1, 0.25), (0.4, 0.5), (0.85, 0.3))),
                     (True, ((0.85, 0.1), (0.82, 0.75), (0.45, 1.0), (0.15, 0.85))))
_NINE_ONE_STROKE: Style = ((True, ((0.9, 0.05), (0.55, 0.0), (0.12, 0.2), (0.3, 0.5), (0.8, 0.3), (0.88, 0.05),
                                   (0.8, 0.6), (0.6, 1.0))),)

STYLES: dict[str, tuple[Style, ...]] = {
    "0": (_ZERO_OVAL, _ZERO_EXIT_LOOP, _ZERO_TAIL_DOWN, _ZERO_ENTRY),
    "1": (_ONE_BAR, _ONE_FLAG, _ONE_LONG_FLAG, _ONE_FLAG_FOOT, _ONE_CURVED_FLAG),
    "2": (_TWO_PLAIN, _TWO_FOOT_LOOP, _TWO_CLOSED_TOP, _TWO_ANGULAR),
    "3": (_THREE_ROUND, _THREE_FLAT_TOP),
    "4": (_FOUR_CLOSED, _FOUR_OPEN, _FOUR_H, _FOUR_ONE_STROKE),
    "5": (_FIVE_PLAIN, _FIVE_ONE_STROKE, _FIVE_ROUND_TOP),
    "6": (_SIX_PLAIN, _SIX_STRAIGHT),
    "7": (_SEVEN_PLAIN, _SEVEN_BAR, _SEVEN_HOOK, _SEVEN_CURVED),
    "8": (_EIGHT_ONE_STROKE, _EIGHT_TWO_LOOPS),
    "9": (_NINE_STRAIGHT, _NINE_HOOK, _NINE_ONE_STROKE),
}

# Width over height of the drawn box. Zeros in amounts are often written small and wide
# (the ``00`` of cents); a 1 is as wide as its flag makes it.
ASPECT = (0.45, 0.85)
ZERO_ASPECT = (0.6, 1.5)
# How far each control point wanders (in box units), the slant (horizontal shift per unit
# of height, forward leaning mostly), and the turn in degrees.
JITTER = 0.04
SLANT = (-0.15, 0.45)
TURN_DEG = 7.0
SPLINE_STEPS = 10


def _spline(points: np.ndarray, steps: int = SPLINE_STEPS) -> np.ndarray:
    """A uniform Catmull-Rom spline through ``points`` (K, 2), ``steps`` samples a span."""
    if len(points) < 3:
        return points
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, None]
    out = []
    for k in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[k - 1 : k + 3]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(points[-1:])
    return np.vstack(out)


def draw_digit(digit: str, rng: np.random.Generator) -> np.ndarray:
    """One ``digit`` in one of its styles, drawn by a pen at a random size: an ink-high
    float32 image with a margin around the digit."""
    styles = STYLES[digit]
    return _draw_style(styles[int(rng.integers(len(styles)))], digit, rng)


def _draw_style(style: Style, digit: str, rng: np.random.Generator) -> np.ndarray:
    height = rng.uniform(28, 64)
    aspect = rng.uniform(*(ZERO_ASPECT if digit == "0" else ASPECT))
    slant, turn = rng.uniform(*SLANT), np.deg2rad(rng.uniform(-TURN_DEG, TURN_DEG))
    cos, sin = np.cos(turn), np.sin(turn)
    # Points shared by two strokes move together, so a corner stays joined.
    moved: dict[tuple[float, float], np.ndarray] = {}
    lines = []
    for smooth, points in style:
        unit = np.array([moved.setdefault(p, np.array(p) + rng.normal(0.0, JITTER, 2)) for p in points])
        x = (unit[:, 0] + slant * (1.0 - unit[:, 1])) * aspect * height
        y = unit[:, 1] * height
        turned = np.stack([cos * x - sin * y, sin * x + cos * y], axis=1)
        lines.append(_spline(turned) if smooth else turned)
    every = np.vstack(lines)
    pen = rng.uniform(1.5, max(2.0, 0.14 * height))
    margin = pen + 4
    origin = every.min(axis=0) - margin
    size = np.ceil(every.max(axis=0) - origin + margin).astype(int)
    canvas = np.zeros((size[1], size[0]), np.float32)
    for line in lines:
        scaled = np.round((line - origin) * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [scaled], False, 1.0, max(1, round(pen)), cv2.LINE_AA, 4)
    return canvas


def contact_sheet(out: Path, per_style: int = 8, seed: int = 20261201) -> Path:
    """A PNG with a row per style: ``per_style`` draws of it after the MNIST recipe, as the
    model sees them before augmentation, to check by eye which shapes are in."""
    from docproc.glyphs.normalize import normalize_glyph

    rng = np.random.default_rng(seed)
    rows = []
    for digit, styles in STYLES.items():
        for index in range(len(styles)):
            row = [normalize_glyph(_draw_style(styles[index], digit, rng)) for _ in range(per_style)]
            rows.append(np.hstack([np.pad(crop, 2) for crop in row]))
    sheet = 255 - np.round(np.vstack(rows) * 255).astype(np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.resize(sheet, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
    return out


if __name__ == "__main__":
    import sys

    default = Path(__file__).resolve().parent.parent / "docs" / "training-pen-digits.png"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print(f"contact sheet of the pen-drawn digit styles: {contact_sheet(target)}")
