"""Field templates (YAML): which boxes of a page hold which digit fields.

The contract is docs/templates.md; its shape (keys, types, ranges) is template_schema.py.
A template with any error is refused before a page is read, with the file, the line, the
field and what is wrong; all errors are reported at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from docproc.errors import TemplateError
from docproc.layout.template_schema import FieldEntry, TemplateDocument, page_runs
from docproc.recognize.classes import MARKS

# (first, last) runs of page numbers from 1; last None for "to the document's end".
PageRuns = tuple[tuple[int, int | None], ...]


def page_list(runs: PageRuns) -> str:
    """Runs of pages as a template writes them: ``1, 3-4, 6-``."""
    return ", ".join(f"{first}" if first == last else f"{first}-{last or ''}" for first, last in runs)


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
    # A blank field (no ink in its box) is ok with an empty text, not review.
    optional: bool = False
    # This field's review threshold, in place of the run's --review-below.
    review_below: float | None = None
    # The pages the field is on; None for every page.
    pages: PageRuns | None = None
    # What the digits are: "digits", "amount" (with ``decimals``) or "date" (in ``order``).
    value_type: str = "digits"
    decimals: int = 2
    order: str = "DMY"
    # The check digit scheme of the field's last digit (recognize/check_digits.py), if any.
    check: str | None = None

    def describe(self) -> str:
        """One line that says what the field holds, for ``docproc template check``."""
        length = f"{self.min_length}" if self.min_length == self.max_length else f"{self.min_length}-{self.max_length}"
        said = [f"box {list(self.box)}", f"{length} digits"]
        said += [f"pattern {self.pattern.pattern}"] if self.pattern else []
        said += [f"marks {self.marks!r}"] if self.marks else []
        said += [f"amount with {self.decimals} decimals"] if self.value_type == "amount" else []
        said += [f"date ({self.order})"] if self.value_type == "date" else []
        said += [f"check digit {self.check}"] if self.check else []
        if self.pages is not None:
            said.append(f"pages {page_list(self.pages)}")
        said += ["optional"] if self.optional else []
        said += [f"review below {self.review_below:g}"] if self.review_below is not None else []
        return f"{self.name}: " + ", ".join(said)

    def on_page(self, number: int) -> bool:
        """Whether the field is on page ``number`` (from 1)."""
        return self.pages is None or any(first <= number and (last is None or number <= last)
                                         for first, last in self.pages)


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

    def on_page(self, number: int) -> Template:
        """The template of page ``number``: the fields that are on it (``FieldSpec.pages``)."""
        return dataclasses.replace(self, fields=tuple(f for f in self.fields if f.on_page(number)))


def _reference(value: str, source: Path, problems: list[str]) -> tuple[np.ndarray | None, str]:
    """The reference form's ink mask and the file's SHA-256, from the ``reference`` path
    (relative to the template's folder)."""
    import cv2

    from docproc.glyphs.binarize import binarize
    from docproc.layout.paper import find_paper

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


# What each key must be, for messages that say how to write it (pydantic's own say only
# which type failed, once for each alternative of a union).
_FIELD_HELP = {
    "name": "must be a non-empty string",
    "box": "must be [left, top, right, bottom] as fractions of the page (0 to 1, not pixels)",
    "length": "must be an integer or [min, max] of integers from 1 to 64",
    "pattern": "must be a string (a regular expression)",
    "marks": f"must be a string of the marks the field may hold, some of {MARKS!r}",
    "optional": "must be true or false",
    "review_below": "must be a number from 0 to 1",
    "pages": "must be a page number from 1, a run of pages such as '2-4' or '2-' (to the last page), or a list of them",
    "type": "must be one of digits, amount, date",
    "decimals": "must be an integer from 0 to 4",
    "order": "must be one of DMY, MDY, YMD",
    "check": "must be one of luhn, mod10, mod11, mod97",
}
_TEMPLATE_HELP = {
    "name": "must be a non-empty string (it fills the CSV 'template' column)",
    "fields": "must be a non-empty list of fields, each a mapping with 'name', 'box' and 'length'",
    "reference": "must be the path of an image of the blank form (PNG, JPEG, TIFF)",
    "pages": _FIELD_HELP["pages"],
}

KeyPath = tuple[Any, ...]


def _positions(node: yaml.Node, at: KeyPath = (), found: dict[KeyPath, yaml.Mark] | None = None) -> dict[KeyPath, yaml.Mark]:
    """Where each key and item of a composed YAML document starts, by its path of keys and indices."""
    found = {} if found is None else found
    found.setdefault(at, node.start_mark)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                found[at + (key.value,)] = key.start_mark
                _positions(value, at + (key.value,), found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _positions(item, at + (index,), found)
    return found


def _twice(node: yaml.Node, at: KeyPath = ()) -> list[tuple[KeyPath, yaml.Mark]]:
    """Keys given twice in one mapping (YAML keeps the last one, silently), with where the second is."""
    found: list[tuple[KeyPath, yaml.Mark]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    found.append((at + (key.value,), key.start_mark))
                seen.add(key.value)
                found += _twice(value, at + (key.value,))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _twice(item, at + (index,))
    return found


def _line(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


class _Problems:
    """The problems found in one template, each placed at its line, and said in field terms."""

    def __init__(self, document: Any, marks: dict[KeyPath, yaml.Mark]) -> None:
        self.document = document
        self.marks = marks
        self.found: list[tuple[int, str]] = []
        self.said: set[tuple[KeyPath, str]] = set()

    def where(self, at: KeyPath) -> str:
        """``field 'amount'`` for a path into the fields (by name where it has one), else empty."""
        if len(at) >= 2 and at[0] == "fields" and isinstance(at[1], int):
            raw = self._raw(at[:2])
            name = raw.get("name") if isinstance(raw, dict) else None
            return f"field '{name}': " if isinstance(name, str) and name.strip() else f"field {at[1] + 1}: "
        return ""

    def _raw(self, at: KeyPath) -> Any:
        value = self.document
        for step in at:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def add(self, at: KeyPath, message: str) -> None:
        if (at, message) in self.said:
            return
        self.said.add((at, message))
        mark = None
        for length in range(len(at), -1, -1):  # the nearest place the file has: a missing key's mapping
            mark = self.marks.get(at[:length])
            if mark is not None:
                break
        self.found.append((mark.line if mark is not None else -1, _line(mark) + self.where(at) + message))

    def add_validation(self, exc: ValidationError) -> None:
        for error in exc.errors():
            loc = tuple(error["loc"])
            in_field = len(loc) >= 2 and loc[0] == "fields" and isinstance(loc[1], int)
            base, rest = (loc[:2], loc[2:]) if in_field else ((), loc)
            known = FieldEntry.model_fields if in_field else TemplateDocument.model_fields
            help_for = _FIELD_HELP if in_field else _TEMPLATE_HELP
            key = rest[0] if rest else None
            if error["type"] == "extra_forbidden":
                near = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
                hint = f" (did you mean '{near[0]}'?)" if near else f"; the keys are {', '.join(known)}"
                self.add(base + (key,), f"unknown key '{key}'{hint}")
            elif error["type"] == "missing" and len(rest) == 1:
                self.add(base + (key,), f"'{key}' is missing")
            elif error["type"] == "value_error":
                self.add(loc, str(error["msg"]).removeprefix("Value error, "))
            elif not rest and in_field:
                self.add(base, "must be a mapping with 'name', 'box' and 'length'")
            elif key in help_for:
                self.add(base + (key,), f"'{key}' {help_for[key]}, got {self._raw(base + (key,))!r}")
            else:
                self.add(loc, str(error["msg"]))

    def raise_if_any(self, source: Path) -> None:
        if self.found:
            lines = [message for _, message in sorted(self.found, key=lambda found: found[0])]
            raise TemplateError(f"template {source} is invalid:\n  - " + "\n  - ".join(lines))


def _spec(entry: FieldEntry, pages: Any) -> FieldSpec:
    low, high = (entry.length, entry.length) if isinstance(entry.length, int) else entry.length
    chosen = entry.pages if entry.pages is not None else pages
    return FieldSpec(entry.name, tuple(entry.box), low, high,  # type: ignore[arg-type]
                     re.compile(entry.pattern) if entry.pattern is not None else None,
                     "".join(mark for mark in MARKS if mark in entry.marks), entry.optional, entry.review_below,
                     page_runs(chosen) if chosen is not None else None, entry.type,
                     entry.decimals if entry.decimals is not None else 2, entry.order or "DMY", entry.check)


def parse_template(text: str, source: Path) -> Template:
    """Validate a template's YAML text. Raises TemplateError listing every problem, each
    with its line and column in ``source``."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        context = (f" ({exc.context}, from line {exc.context_mark.line + 1})"
                   if exc.context and exc.context_mark is not None else "")
        raise TemplateError(f"template {source} is not valid YAML: {_line(exc.problem_mark)}{exc.problem}{context}; "
                            "fix the file (docs/templates.md shows a template)") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {source} is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        kind = "empty" if document is None else f"a {type(document).__name__}"
        raise TemplateError(f"template {source} is {kind}: a template is a mapping with 'name' and 'fields' "
                            "(docs/templates.md shows one)")
    problems = _Problems(document, _positions(node))
    for at, _ in _twice(node):
        problems.add(at, f"'{at[-1]}' is given twice; keep one")
    names = [f.get("name") for f in document.get("fields") or [] if isinstance(f, dict)]
    for index, name in enumerate(names):
        if isinstance(name, str) and name in names[:index]:
            problems.add(("fields", index, "name"), "the name is used twice; each field needs its own name")
    try:
        checked = TemplateDocument.model_validate(document)
    except ValidationError as exc:
        problems.add_validation(exc)
        problems.raise_if_any(source)
        raise AssertionError("a validation error with no problem") from exc
    reference, reference_sha256 = None, ""
    if checked.reference is not None:
        found: list[str] = []
        reference, reference_sha256 = _reference(checked.reference, source, found)
        for message in found:
            problems.add(("reference",), message)
    problems.raise_if_any(source)
    return Template(name=checked.name, fields=tuple(_spec(entry, checked.pages) for entry in checked.fields),
                    source=source, reference=reference, reference_sha256=reference_sha256)


def load_template(path: Path) -> Template:
    """Read and validate a template file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    return parse_template(text, Path(path))
