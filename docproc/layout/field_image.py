"""The plain data the layout stage hands on: one field's image, box and spec."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docproc.layout.templates import FieldSpec


@dataclass(frozen=True)
class FieldImage:
    """One field to read: its name, the grey crop (ink dark), its box (x, y, w, h) on the
    original page in pixels, its spec when a template defined it, why its place on the
    page is in doubt (empty when it is not: a field in doubt is never ``ok``), and which
    document on the page it belongs to (from 1; 1 unless the page's documents are read
    one by one)."""

    name: str
    image: np.ndarray
    box: tuple[int, int, int, int]
    spec: FieldSpec | None = None
    doubt: str = ""
    part: int = 1
