"""Synthetic scanned documents with handwritten MNIST *test* digits, and their truth.

Three kinds of page, drawn at a known resolution:
- cheque: tinted paper with a security pattern, printed labels and lines, the date in
  comb boxes and the courtesy amount in a printed frame;
- form: a white page with an account number in comb boxes, a phone number on an
  underline, an amount in a frame and a zip code in comb boxes;
- zip: a cut-out zip-code field, sometimes with its printed box or underline.

Each layout knows its field boxes as page fractions (so it can write its template) and
each page its truth. Scanner effects (tilt, shift, blur, noise; JPEG is chosen by the
writer) are applied after drawing. Everything is a pure function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from docproc.datasets import mnist

PRINT_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class FieldDraw:
    """A field as the layout prints it: name, box in page pixels (x0, y0, x1, y1), the
    printed furniture ('frame', 'comb', 'underline' or 'none'), comb cell count, and the
    digit count range it is filled with."""

    name: str
    box: tuple[int, int, int, int]
    furniture: str
    cells: int
    length: tuple[int, int]
    # Template keys beyond box and length (docs/templates.md), in the order written:
    # ("check", "luhn") makes the field's last digit its Luhn check digit.
    keys: tuple[tuple[str, str], ...] = ()


@dataclass
class Layout:
    """A page design: size, paper, the fields, and printed labels."""

    kind: str
    size: tuple[int, int]  # width, height in pixels
    dpi: int
    fields: list[FieldDraw]
    labels: list[tuple[str, tuple[int, int], float]] = field(default_factory=list)
    security: bool = False

    def template_yaml(self) -> str:
        """The template that reads this layout (box margins included), as YAML text."""
        width, height = self.size
        lines = [f"name: {self.kind}", "fields:"]
        for f in self.fields:
            x0, y0, x1, y1 = f.box
            box = [round(x0 / width, 4), round(y0 / height, 4), round(x1 / width, 4), round(y1 / height, 4)]
            length = f.length[0] if f.length[0] == f.length[1] else list(f.length)
            lines += [f"  - name: {f.name}", f"    box: {box}", f"    length: {length}"]
            lines += [f"    {key}: {value}" for key, value in f.keys]
        return "\n".join(lines) + "\n"


def cheque_layout(template_keys: bool = False) -> Layout:
    """A personal cheque at 200 dpi (6 x 2.75 in); with ``template_keys``, its template says
    the amount is an amount (the demo samples' template)."""
    return Layout(
        kind="cheque",
        size=(1200, 550),
        dpi=200,
        security=True,
        fields=[
            FieldDraw("date", (880, 50, 1170, 115), "comb", 8, (8, 8)),
            FieldDraw("amount", (880, 170, 1170, 250), "frame", 0, (2, 6),
                      (("type", "amount"), ("decimals", "2")) if template_keys else ()),
        ],
        labels=[("FIRST DOCPROC BANK", (40, 70), 0.9), ("DATE", (800, 95), 0.6), ("PAY TO THE", (40, 200), 0.55),
                ("ORDER OF", (40, 225), 0.55), ("$", (850, 225), 0.9), ("DOLLARS", (1040, 330), 0.55),
                ("MEMO", (40, 460), 0.55)],
    )


def form_layout(template_keys: bool = False) -> Layout:
    """One page of an application form at 150 dpi (letter size); with ``template_keys``,
    its account number ends in a Luhn check digit that its template names (the demo
    samples' form)."""
    return Layout(
        kind="form",
        size=(1275, 1650),
        dpi=150,
        fields=[
            FieldDraw("account", (420, 300, 1000, 380), "comb", 10, (10, 10),
                      (("check", "luhn"),) if template_keys else ()),
            FieldDraw("phone", (420, 520, 1000, 600), "underline", 0, (10, 10)),
            FieldDraw("amount", (420, 740, 780, 830), "frame", 0, (3, 7)),
            FieldDraw("zip", (420, 960, 720, 1040), "comb", 5, (5, 5)),
        ],
        labels=[("APPLICATION FORM", (420, 150), 1.3), ("Account number", (120, 350), 0.8),
                ("Phone", (120, 570), 0.8), ("Amount", (120, 795), 0.8), ("Zip code", (120, 1010), 0.8)],
    )


def zip_layout(furniture: str) -> Layout:
    """A cut-out zip-code field at 300 dpi."""
    return Layout(kind="zip", size=(420, 130), dpi=300, fields=[FieldDraw("zip", (10, 10, 410, 120), furniture, 0, (5, 5))])


@dataclass
class DigitSource:
    """MNIST digits of a given label, drawn at random in a seeded order: from the test
    split unless ``split`` is given (training draws from the training digits)."""

    rng: np.random.Generator
    split: mnist.Split | None = None
    _by_label: list[np.ndarray] | None = None
    # Indices into the split of the digits each field was written with, field by field in
    # the order they were written, so a benchmark can ask how the classifier reads the
    # very same digits without a scan.
    written: list[tuple[int, ...]] = field(default_factory=list)
    drawn: list[int] = field(default_factory=list)  # every index drawn, redraws included

    def image(self, label: int) -> np.ndarray:
        """A random digit of ``label`` from the split (uint8, 28x28, ink high)."""
        if self.split is None:
            self.split = mnist.load("test")
        if self._by_label is None:
            self._by_label = [np.flatnonzero(self.split.labels == d) for d in range(10)]
        index = int(self.rng.choice(self._by_label[label]))
        self.drawn.append(index)
        return self.split.images[index]

    def field_written(self, length: int) -> None:
        """Note that the last ``length`` digits drawn are the ones a field was written with
        (a field that had to be written smaller drew its digits again)."""
        self.written.append(tuple(self.drawn[-length:]))


def _glyph(image: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit scaled so its 20-pixel box becomes ``height`` pixels, cropped to its ink."""
    scale = height / 20.0 * rng.uniform(0.9, 1.08)
    size = max(8, int(round(28 * scale)))
    big = cv2.resize(image.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big, 0, 1)
    rows = np.flatnonzero(big.max(axis=1) > 0.1)
    cols = np.flatnonzero(big.max(axis=0) > 0.1)
    return big[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_width(glyph: np.ndarray, width: int) -> np.ndarray:
    """The glyph scaled down, aspect kept, so it is at most ``width`` pixels wide."""
    if glyph.shape[1] <= width:
        return glyph
    scale = width / glyph.shape[1]
    size = (width, max(1, int(round(glyph.shape[0] * scale))))
    return np.clip(cv2.resize(glyph, size, interpolation=cv2.INTER_AREA), 0, 1)


def _draw_furniture(canvas: np.ndarray, f: FieldDraw, thickness: int) -> None:
    x0, y0, x1, y1 = f.box
    margin_x, margin_y = (x1 - x0) // 40 + 4, (y1 - y0) // 8
    fx0, fy0, fx1, fy1 = x0 + margin_x, y0 + margin_y, x1 - margin_x, y1 - margin_y
    if f.furniture in ("frame", "comb"):
        cv2.rectangle(canvas, (fx0, fy0), (fx1, fy1), 255, thickness)
    if f.furniture == "comb":
        for i in range(1, f.cells):
            x = fx0 + (fx1 - fx0) * i // f.cells
            cv2.line(canvas, (x, fy0), (x, fy1), 255, thickness)
    if f.furniture == "underline":
        cv2.line(canvas, (fx0, fy1), (fx1, fy1), 255, thickness)


def _write_digits(ink: np.ndarray, f: FieldDraw, text: str, digits: DigitSource, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = f.box
    margin_x, margin_y = (x1 - x0) // 40 + 4, (y1 - y0) // 8
    fx0, fy0, fx1, fy1 = x0 + margin_x, y0 + margin_y, x1 - margin_x, y1 - margin_y
    inner_h = fy1 - fy0
    height = int(inner_h * rng.uniform(0.58, 0.75))
    if f.furniture == "comb":
        cell = (fx1 - fx0) / f.cells
        height = min(height, int(cell * 0.95))
        # People write each digit inside its box: a wide digit is written smaller rather
        # than over the dividers (it may still touch them).
        glyphs = [_fit_width(_glyph(digits.image(int(ch)), height, rng), int(cell * 0.92)) for ch in text]
        spots = [int(fx0 + cell * (i + 0.5)) for i in range(len(text))]
        lefts = [s - g.shape[1] // 2 + int(rng.integers(-2, 3)) for s, g in zip(spots, glyphs)]
    else:
        glyphs = [_glyph(digits.image(int(ch)), height, rng) for ch in text]
        gaps = [int(height * rng.uniform(0.08, 0.35)) if rng.random() > 0.08 else -int(height * 0.04) for _ in glyphs]
        total = sum(g.shape[1] for g in glyphs) + sum(gaps[:-1])
        while total > fx1 - fx0 - 8 and height > 12:  # too long for the box: write smaller
            height = int(height * 0.9)
            glyphs = [_glyph(digits.image(int(ch)), height, rng) for ch in text]
            total = sum(g.shape[1] for g in glyphs) + sum(gaps[:-1])
        start = fx0 + 4 + int(rng.integers(0, max(1, fx1 - fx0 - 8 - total)))
        lefts, x = [], start
        for g, gap in zip(glyphs, gaps):
            lefts.append(x)
            x += g.shape[1] + gap
    digits.field_written(len(text))
    baseline = fy1 - int(inner_h * rng.uniform(0.1, 0.2))
    for left, g in zip(lefts, glyphs):
        top = baseline - g.shape[0] + int(rng.integers(-3, 4))
        top = max(0, top)
        region = ink[top : top + g.shape[0], left : left + g.shape[1]]
        np.maximum(region, g[: region.shape[0], : region.shape[1]], out=region)


def _security_pattern(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    ys, xs = np.indices(shape, dtype=np.float32)
    period = rng.uniform(14, 24)
    wave = 0.5 + 0.5 * np.sin((xs + 8 * np.sin(ys / 23.0)) / period * 2 * np.pi + ys / period)
    return (wave > 0.82).astype(np.float32)


def random_text(f: FieldDraw, rng: np.random.Generator) -> str:
    """A digit string for a field: its length drawn from the field's range; with a check
    digit among its keys, the last digit is the one the check asks for."""
    length = int(rng.integers(f.length[0], f.length[1] + 1))
    text = "".join(str(int(d)) for d in rng.integers(0, 10, size=length))
    scheme = dict(f.keys).get("check")
    if scheme is not None:
        from docproc.recognize.check_digits import completed

        text = completed(text[:-1], scheme) or text
    return text


def render_page(layout: Layout, rng: np.random.Generator, digits: DigitSource | None,
                scanner: bool = True) -> tuple[np.ndarray, dict[str, str]]:
    """Draw one filled-in page (RGB uint8) and return it with its truth {field: text};
    with no ``digits``, the blank form (and no truth)."""
    width, height = layout.size
    printed = np.zeros((height, width), np.uint8)  # OpenCV draws text on 8-bit images only
    handwriting = np.zeros((height, width), np.float32)
    thickness = max(1, layout.dpi // 100)
    truth: dict[str, str] = {}
    for f in layout.fields:
        _draw_furniture(printed, f, thickness)
        if digits is not None:
            truth[f.name] = random_text(f, rng)
            _write_digits(handwriting, f, truth[f.name], digits, rng)
    for text, origin, scale in layout.labels:
        cv2.putText(printed, text, origin, PRINT_FONT, scale * layout.dpi / 200, 255, max(1, thickness), cv2.LINE_AA)
    if layout.kind == "cheque":
        cv2.line(printed, (200, 235), (820, 235), 255, thickness)  # payee line
        cv2.line(printed, (40, 340), (1020, 340), 255, thickness)  # amount in words
        cv2.line(printed, (130, 470), (600, 470), 255, thickness)  # memo
    printed = printed.astype(np.float32) / 255.0
    paper = np.array(rng.uniform([228, 228, 222], [250, 250, 246]), np.float32)
    if layout.security:
        paper = np.array(rng.uniform([200, 215, 200], [235, 240, 235]), np.float32)
    page = np.ones((height, width, 3), np.float32) * paper
    if layout.security:
        pattern = _security_pattern((height, width), rng)[..., None]
        page = page - pattern * rng.uniform(20, 40)
    printed_colour = np.array([30, 30, 30], np.float32)
    # BGR: black or blue ink.
    ink_colour = np.array([20, 25, 30], np.float32) if rng.random() < 0.5 else np.array([150, 60, 20], np.float32)
    page = page * (1 - printed[..., None]) + printed_colour * printed[..., None]
    strength = handwriting[..., None] * rng.uniform(0.8, 1.0)
    page = page * (1 - strength) + ink_colour * strength
    if scanner:
        page = scan_effects(page, rng)
    return np.clip(page, 0, 255).astype(np.uint8), truth


def blank_form(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """The layout's form as printed, before anyone wrote on it, scanned straight (grey
    uint8): what a template's reference image is."""
    page, _ = render_page(layout, rng, None, scanner=False)
    return cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)


def scan_effects(page: np.ndarray, rng: np.random.Generator, max_angle: float = 2.0, max_shift: float = 0.02) -> np.ndarray:
    """Tilt by up to ``max_angle`` degrees, shift by up to ``max_shift`` of the page, blur, noise."""
    height, width = page.shape[:2]
    angle = rng.uniform(-max_angle, max_angle)
    shift = rng.uniform(-max_shift, max_shift, size=2) * np.array([width, height])
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    matrix[:, 2] += shift
    border = tuple(float(v) for v in page[2, 2])
    page = cv2.warpAffine(page, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border)
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.4, 0.9))
    page = page + rng.normal(0, rng.uniform(2, 6), page.shape).astype(np.float32)
    return page
