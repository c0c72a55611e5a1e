"""What the template says of a field, and whether a keyed value keeps it.

The checks are the reading's own (recognize/judgement.py), so a keyed value is held to
the same length, pattern, marks, check digit and type as the machine's reading was, and
the station cannot drift from the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docproc.errors import ReviewError, TemplateError
from docproc.layout.templates import FieldSpec, Template, load_template
from docproc.recognize.classes import DIGITS, MARKS
from docproc.recognize.judgement import rule_reasons, value_of

NOTHING_KEYED = "no digits keyed: type them, or press b for a blank field, u for one no one can read"


@dataclass(frozen=True)
class Checked:
    """A keyed entry checked: its digits, the entry with its marks, the value of an amount
    or date (empty otherwise, or when it is none), and what the template's rules find
    wrong with it (empty when nothing)."""

    text: str
    marks: str
    value: str
    problems: tuple[str, ...]


class Rules:
    """The templates the results were read with, by name."""

    def __init__(self, templates: list[Template]) -> None:
        self.templates = {t.name: t for t in templates}

    @classmethod
    def load(cls, paths: list[Path]) -> Rules:
        """The templates at ``paths``; ReviewError naming the file that cannot be loaded."""
        templates = []
        for path in paths:
            try:
                templates.append(load_template(path))
            except TemplateError as exc:
                raise ReviewError(f"--template {path}: {exc}") from exc
        return cls(templates)

    def unknown(self, names: set[str]) -> list[str]:
        """Template names the results use that no given template has."""
        return sorted(name for name in names if name and name not in self.templates)

    def spec(self, template: str, field: str) -> FieldSpec | None:
        """The field's spec, None without its template."""
        found = self.templates.get(template)
        if found is None:
            return None
        return next((f for f in found.fields if f.name == field), None)


def describe(spec: FieldSpec | None) -> list[str]:
    """What the template asks of the field, in short phrases for the operator."""
    if spec is None:
        return []
    length = f"{spec.min_length}" if spec.min_length == spec.max_length else f"{spec.min_length}-{spec.max_length}"
    said = [f"{length} digits"]
    said += [f"pattern {spec.pattern.pattern}"] if spec.pattern else []
    said += [f"marks {spec.marks}"] if spec.marks else []
    said += [f"amount, {spec.decimals} decimals"] if spec.value_type == "amount" else []
    said += [f"date {spec.order}"] if spec.value_type == "date" else []
    said += [f"check digit {spec.check}"] if spec.check else []
    said += ["optional"] if spec.optional else []
    return said


def check(entry: str, spec: FieldSpec | None) -> Checked:
    """Check what the operator typed (digits, with marks between them: ``1.250,00``)."""
    entry = entry.strip()
    strange = sorted({ch for ch in entry if ch not in DIGITS and ch not in MARKS})
    text = "".join(ch for ch in entry if ch in DIGITS)
    problems = [f"only digits and the marks {MARKS} can be keyed, not {' '.join(strange)}"] if strange else []
    problems += rule_reasons(text, entry, spec) if text else [NOTHING_KEYED]
    value = value_of(text, entry, spec) if spec is not None and spec.value_type != "digits" else None
    return Checked(text, entry, value or "", tuple(problems))
