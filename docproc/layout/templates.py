"""Field templates (YAML): which boxes of a page hold which digit fields.

The contract is docs/templates.md. A template with any error is refused before a page is read,
with the file, the field and what is wrong; all errors are reported at once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from docproc.errors import TemplateError
from docproc.recognize.classes import MARKS

KNOWN_TEMPLATE_KEYS = {"name", "fields", "reference"}
KNOWN_FIELD_KEYS = {"name", "box", "length", "pattern", "marks"}
MAX_DIGITS = 64


@dataclass(frozen=True)
class FieldSpec:
    """One field: its name, box (left, top, right, bottom as page fractions), the digit
    count expected, an optional full-match pattern, and the marks it may hold between its
    digits (none unless the template says)."""

    name: str
    box: tuple[float, float, float, float]
    min_length: int
    max_length: int
    pattern: re.Pattern[str] | None = None
    marks: str = ""


@dataclass(frozen=True)
class Template:
    """A named set of fields, the file it came from, and, when the template names an image
    of its blank form (``reference``), that form's printed ink (True where ink, on the
    form's paper: layout/reference.py aligns pages to it) and the image file's SHA-256."""

    name: str
    fields: tuple[FieldSpec, ...]
    source: Path
    reference: np.ndarray | None = field(default=None, compare=False, repr=False)
    reference_sha256: str = ""


def _reference(value: Any, source: Path, problems: list[str]) -> tuple[np.ndarray | None, str]:
    """The reference form's ink mask and the file's SHA-256, from the ``reference`` path
    (relative to the template's folder)."""
    import cv2

    from docproc.glyphs.binarize import binarize
    from docproc.layout.paper import find_paper

    if not isinstance(value, str) or not value.strip():
        problems.append(f"'reference' must be the path of an image of the blank form (PNG, JPEG, TIFF), got {value!r}")
        return None, ""
    path = source.parent / value
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"'reference' {value!r}: cannot read {path} ({exc.strerror or exc}); give the path of an "
                        "image of the blank form, relative to the template's folder")
        return None, ""
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None or grey.size == 0:
        problems.append(f"'reference' {value!r}: {path} is not an image OpenCV can read; save the blank form as "
                        "PNG, JPEG or TIFF")
        return None, ""
    _, ink = binarize(find_paper(grey).image)
    if not ink.any():
        problems.append(f"'reference' {value!r}: {path} holds no printed ink; give an image of the blank form")
        return None, ""
    return ink, hashlib.sha256(data).hexdigest()


def _length(value: Any, where: str, problems: list[str]) -> tuple[int, int]:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        low, high = value
    else:
        problems.append(f"{where}: 'length' must be an integer or [min, max] of integers, got {value!r}")
        return 1, MAX_DIGITS
    if not 1 <= low <= high <= MAX_DIGITS:
        problems.append(f"{where}: 'length' must satisfy 1 <= min <= max <= {MAX_DIGITS}, got {value!r}")
    return low, high


def _box(value: Any, where: str, problems: list[str]) -> tuple[float, float, float, float]:
    numbers = isinstance(value, list) and len(value) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    )
    if not numbers:
        problems.append(f"{where}: 'box' must be [left, top, right, bottom] as fractions of the page, got {value!r}")
        return 0.0, 0.0, 1.0, 1.0
    left, top, right, bottom = (float(v) for v in value)
    if not (0.0 <= left < right <= 1.0 and 0.0 <= top < bottom <= 1.0):
        problems.append(
            f"{where}: 'box' {value!r} must have 0 <= left < right <= 1 and 0 <= top < bottom <= 1 "
            "(fractions of the page width and height, not pixels)"
        )
    return left, top, right, bottom


def _marks(value: Any, where: str, problems: list[str]) -> str:
    if not isinstance(value, str) or any(mark not in MARKS for mark in value):
        problems.append(f"{where}: 'marks' must be a string of the marks the field may hold, some of {MARKS!r}; "
                        f"got {value!r}")
        return ""
    return "".join(mark for mark in MARKS if mark in value)


def parse_template(document: Any, source: Path) -> Template:
    """Validate a parsed YAML document as a template. Raises TemplateError listing every problem."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise TemplateError(f"{source}: a template is a mapping with 'name' and 'fields', got {type(document).__name__}")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("'name' must be a non-empty string (it fills the CSV 'template' column)")
        name = ""
    fields_raw = document.get("fields")
    if not isinstance(fields_raw, list) or not fields_raw:
        problems.append("'fields' must be a non-empty list of fields")
        fields_raw = []
    fields: list[FieldSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(fields_raw, start=1):
        where = f"field {index}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping with 'name', 'box' and 'length'")
            continue
        field_name = raw.get("name")
        if not isinstance(field_name, str) or not field_name.strip():
            problems.append(f"{where}: 'name' must be a non-empty string")
            field_name = f"#{index}"
        else:
            where = f"field '{field_name}'"
            if field_name in seen:
                problems.append(f"{where}: the name is used twice; each field needs its own name")
            seen.add(field_name)
        for key in ("box", "length"):
            if key not in raw:
                problems.append(f"{where}: '{key}' is missing")
        box = _box(raw.get("box"), where, problems) if "box" in raw else (0.0, 0.0, 1.0, 1.0)
        low, high = _length(raw.get("length"), where, problems) if "length" in raw else (1, MAX_DIGITS)
        pattern = None
        if raw.get("pattern") is not None:
            if not isinstance(raw["pattern"], str):
                problems.append(f"{where}: 'pattern' must be a string (a regular expression)")
            else:
                try:
                    pattern = re.compile(raw["pattern"])
                except re.error as exc:
                    problems.append(f"{where}: 'pattern' {raw['pattern']!r} is not a valid regular expression: {exc}")
        marks = _marks(raw.get("marks", ""), where, problems)
        fields.append(FieldSpec(field_name, box, low, high, pattern, marks))
    reference, reference_sha256 = (_reference(document["reference"], source, problems)
                                   if document.get("reference") is not None else (None, ""))
    if problems:
        raise TemplateError(f"template {source} is invalid:\n  - " + "\n  - ".join(problems))
    return Template(name=name, fields=tuple(fields), source=source, reference=reference,
                    reference_sha256=reference_sha256)


def load_template(path: Path) -> Template:
    """Read and validate a template file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {path} is not valid YAML: {exc}") from exc
    return parse_template(document, Path(path))
