"""The plain data the layout stage hands on: one field's image, box and spec."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docproc.layout.templates import FieldSpec


@dataclass(frozen=True)
class FieldImage:
    """One field to read: its name, the grey crop (ink dark), its box (x, y, w, h) on the
    original page in pixels, and its spec when a template defined it."""

    name: str
    image: np.ndarray
    box: tuple[int, int, int, int]
    spec: FieldSpec | None = None
