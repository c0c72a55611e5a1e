"""The template contract's shape: which keys a template and its fields may have, their
types and ranges. docs/templates.md says what each means; docs/template.schema.json is
the JSON Schema written from these models (``docproc template schema``), for editors that
check templates as people type. templates.py turns a validated document into the plain
data the pipeline reads.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from docproc.recognize.classes import MARKS

MAX_DIGITS = 64
VALUE_TYPES = ("digits", "amount", "date")
DATE_ORDERS = ("DMY", "MDY", "YMD")
CHECKS = ("luhn", "mod10", "mod11", "mod97")
MAX_DECIMALS = 4
# A run of pages: one page ("2"), from one to another ("2-4"), or from one to the document's end ("2-").
PAGE_RANGE = r"^[1-9][0-9]*(-([1-9][0-9]*)?)?$"

Fraction = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]
Page = Annotated[StrictInt, Field(ge=1)]
PageRange = Annotated[StrictStr, Field(pattern=PAGE_RANGE)]


def page_runs(pages: int | str | list[int | str]) -> tuple[tuple[int, int | None], ...]:
    """``pages`` as (first, last) runs of page numbers from 1, last None for "to the end"."""
    runs = []
    for item in pages if isinstance(pages, list) else [pages]:
        if isinstance(item, int):
            runs.append((item, item))
            continue
        first, dash, last = item.partition("-")
        runs.append((int(first), int(last) if last else None if dash else int(first)))
    return tuple(runs)


def _runs_in_order(pages: int | str | list[int | str]) -> int | str | list[int | str]:
    for first, last in page_runs(pages):
        if last is not None and last < first:
            raise ValueError(f"'pages' run {first}-{last} ends before it starts")
    return pages


Pages = Annotated[Page | PageRange | Annotated[list[Page | PageRange], Field(min_length=1)],
                  AfterValidator(_runs_in_order),
                  Field(description="the pages a field is on: 2, '2-4', '2-' (to the last page) or a list of "
                                    "those; every page when absent")]
Length = Annotated[StrictInt, Field(ge=1, le=MAX_DIGITS)]


class _Strict(BaseModel):
    # Unknown keys are refused, never ignored: a misspelled key would otherwise do nothing, silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldEntry(_Strict):
    """One field of a template."""

    name: Annotated[StrictStr, Field(min_length=1, description="the CSV 'field' column; unique in the template")]
    box: Annotated[tuple[Fraction, Fraction, Fraction, Fraction],
                   Field(description="left, top, right, bottom as fractions of the paper's width and height")]
    length: Annotated[Length | tuple[Length, Length],
                      Field(description="digits expected: one integer, or [min, max]")]
    pattern: Annotated[StrictStr | None, Field(description="a regular expression the digits must match in full")] = None
    marks: Annotated[StrictStr, Field(pattern="^[" + MARKS.replace("-", "\\-") + "]*$",
                                      description=f"the marks the field may hold between its digits, of {MARKS}")] = ""
    optional: Annotated[StrictBool, Field(description="a blank field is ok, with an empty text")] = False
    review_below: Annotated[float | None, Field(ge=0.0, le=1.0, strict=True,
                                                description="this field's review threshold, in place of "
                                                            "--review-below")] = None
    pages: Pages | None = None
    type: Annotated[Literal[VALUE_TYPES], Field(description="what the digits are: the value column's "  # type: ignore[valid-type]
                                                            "normalized amount or ISO 8601 date")] = "digits"
    decimals: Annotated[StrictInt | None, Field(ge=0, le=MAX_DECIMALS,
                                                description="an amount's decimal places (type: amount; default 2)")] = None
    order: Annotated[Literal[DATE_ORDERS] | None, Field(description="a date's order of day, month and "  # type: ignore[valid-type]
                                                                    "year (type: date; default DMY)")] = None
    check: Annotated[Literal[CHECKS] | None, Field(description="the check digit the last digit is")] = None  # type: ignore[valid-type]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"'pattern' {value!r} is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FieldEntry:
        left, top, right, bottom = self.box
        if not (left < right and top < bottom):
            raise ValueError(f"'box' {list(self.box)!r} must have left < right and top < bottom (fractions of the "
                             "page width and height)")
        if isinstance(self.length, tuple) and self.length[0] > self.length[1]:
            raise ValueError(f"'length' must satisfy 1 <= min <= max <= {MAX_DIGITS}, got {list(self.length)!r}")
        if self.decimals is not None and self.type != "amount":
            raise ValueError("'decimals' is for amounts: add 'type: amount', or remove 'decimals'")
        if self.order is not None and self.type != "date":
            raise ValueError("'order' is for dates: add 'type: date', or remove 'order'")
        return self


class TemplateDocument(_Strict):
    """A template file: named fields on a page, and optionally the image of its blank form.
    Field names must be unique too, which a JSON Schema cannot say: templates.py checks it."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="docproc field template")

    name: Annotated[StrictStr, Field(min_length=1, description="the CSV 'template' column")]
    fields: Annotated[list[FieldEntry], Field(min_length=1)]
    reference: Annotated[StrictStr | None, Field(min_length=1, description="an image of the blank form, relative "
                                                                            "to the template's folder")] = None
    pages: Pages | None = None


def json_schema() -> str:
    """The template contract as a JSON Schema (draft 2020-12), as docs/template.schema.json holds it."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **TemplateDocument.model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
