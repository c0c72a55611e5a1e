"""Field results and the results CSV (contract: docs/results-csv.md), written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docproc.errors import OutputError
from docproc.output.atomic import write_atomically

if TYPE_CHECKING:
    import pandas

COLUMNS = ["file", "page", "part", "template", "field", "text", "marks", "value", "confidence", "digit_confidences",
           "status", "reason", "error", "x", "y", "w", "h"]
STATUSES = ("ok", "review", "error")


@dataclass(frozen=True)
class FieldDetail:
    """What a row has beyond the CSV's columns, for the JSON Lines output: the page's size
    in pixels as rasterized and its resolution, where each digit is in the field (x, y, w,
    h from the field box's top-left corner, in the field's pixels as read: upright and
    deskewed; None where not known), and the readers' most likely readings (digits, with
    marks, probability, reader)."""

    page_size: tuple[int, int] = (0, 0)
    dpi: float = 0.0
    digit_boxes: tuple[tuple[int, int, int, int] | None, ...] = ()
    alternatives: tuple[tuple[str, str, float, str], ...] = ()

    def to_json(self) -> str:
        """As the ledger keeps it."""
        return json.dumps({"page_size": list(self.page_size), "dpi": self.dpi,
                           "digit_boxes": [list(b) if b is not None else None for b in self.digit_boxes],
                           "alternatives": [list(a) for a in self.alternatives]})

    @classmethod
    def from_json(cls, text: str) -> FieldDetail:
        """Back from the ledger (``{}`` for rows from before it was kept)."""
        data = json.loads(text or "{}")
        return cls(tuple(data.get("page_size", (0, 0))), float(data.get("dpi", 0.0)),  # type: ignore[arg-type]
                   tuple(tuple(b) if b is not None else None for b in data.get("digit_boxes", ())),  # type: ignore[misc]
                   tuple((str(t), str(m), float(p), str(r)) for t, m, p, r in data.get("alternatives", ())))


@dataclass(frozen=True)
class FieldResult:
    """One row of the results: a field read off a page, or an error for a file or page."""

    file: str
    page: int
    template: str
    field: str
    text: str = ""
    confidence: float = 0.0
    digit_confidences: tuple[float, ...] = ()
    status: str = "ok"
    error: str = ""
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    # The reading with the marks between its digits (``1.250,00``); ``text`` is its digits.
    marks: str = ""
    # Which document on the page the field belongs to, from 1 (run --split-documents).
    part: int = 1
    # Why the row is review or error (empty for ok rows).
    reason: str = ""
    # An amount or date field's normalized value (1250.00, 2026-02-01); empty otherwise.
    value: str = ""
    detail: FieldDetail = FieldDetail()

    def row(self) -> dict[str, object]:
        """The CSV row: probabilities to 4 decimals, so equal runs give equal bytes."""
        x, y, w, h = self.box
        return {
            "file": self.file,
            "page": self.page,
            "part": self.part,
            "template": self.template,
            "field": self.field,
            "text": self.text,
            "marks": self.marks,
            "value": self.value,
            "confidence": f"{self.confidence:.4f}",
            "digit_confidences": " ".join(f"{c:.4f}" for c in self.digit_confidences),
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "x": x,
            "y": y,
            "w": w,
            "h": h,
        }


# Less free space than this beside an output means the disk is full for all purposes:
# refused before any work instead of failing after it.
MIN_FREE_BYTES = 1 << 20


def check_writable(path: Path) -> None:
    """Fail before any work when the output's folder is missing, not writable or on a full disk
    (standard output, ``-``, is always writable)."""
    if path == STDOUT:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; give a file name such as {path / 'results.csv'}")
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} does not exist; create it or choose another -o path")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write in {folder} (permission denied); choose another -o path")
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise OutputError(f"the disk holding {folder} is full ({free // 1024} KiB free); free some space "
                          "or choose another -o path")


FORMATS = ("csv", "jsonl")
# Standard output, as an -o path.
STDOUT = Path("-")
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
_SUFFIXES = {".csv": "csv", **{suffix: "jsonl" for suffix in JSON_LINES_SUFFIXES}, "": "csv"}


def output_format(path: Path, given: str | None) -> str:
    """The format to write ``path`` in: ``given`` (``--format``), else its suffix's
    (``.csv``; ``.jsonl`` or ``.ndjson`` for JSON Lines; none, and standard output, CSV).
    OutputError for another suffix, which would otherwise get CSV under a name that
    promises something else (``results.json``)."""
    if given is not None:
        return given
    if path == STDOUT:
        return "csv"
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise OutputError(f"cannot tell which format to write {path} in: docproc writes CSV (.csv) and JSON Lines "
                          "(.jsonl, .ndjson); name the output so, or say --format csv or --format jsonl")
    return _SUFFIXES[suffix]


def _box(box: tuple[int, int, int, int] | None) -> dict[str, int] | None:
    return None if box is None else dict(zip(("x", "y", "w", "h"), box))


def json_record(result: FieldResult) -> dict[str, object]:
    """One JSON Lines record (docs/results-jsonl.md): the CSV's fields with their own
    types (numbers, lists, the box as an object; probabilities to 4 decimals, as in the
    CSV), and the row's detail."""
    detail = result.detail
    row = result.row()
    return {
        **{key: row[key] for key in ("file", "page", "part", "template", "field", "text", "marks", "value")},
        "confidence": round(result.confidence, 4),
        "digit_confidences": [round(c, 4) for c in result.digit_confidences],
        **{key: row[key] for key in ("status", "reason", "error")},
        "box": _box(result.box),
        "page_size": None if detail.page_size == (0, 0) else dict(zip(("width", "height"), detail.page_size)),
        "dpi": detail.dpi or None,
        "digit_boxes": [_box(box) for box in detail.digit_boxes],
        "alternatives": [{"text": text, "marks": marks, "probability": round(probability, 4), "reader": reader}
                         for text, marks, probability, reader in detail.alternatives],
    }


def render(results: Iterable[FieldResult], form: str) -> bytes:
    """The results as the bytes of a CSV or JSON Lines file (``form``)."""
    if form == "jsonl":
        return "".join(json.dumps(json_record(r), ensure_ascii=False) + "\n" for r in results).encode("utf-8")
    return csv_bytes([r.row() for r in results], COLUMNS)


def csv_bytes(rows: Iterable[dict[str, object]], columns: list[str]) -> bytes:
    """Rows as the bytes of a CSV with ``columns`` as its header: UTF-8, ``\n`` line ends,
    a value quoted only where it holds a comma, a quote or a line end (the bytes pandas'
    ``to_csv`` wrote before: reading does without pandas)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_results(results: Iterable[FieldResult], path: Path, form: str = "csv",
                  fix: str = "free some space or choose another -o path") -> None:
    """Write the results in ``form`` (FORMATS) to ``path`` atomically (a temporary file
    beside it, fsynced, then renamed over it, so a crash leaves the old file or the new
    one), or to standard output when ``path`` is ``-``. ``fix`` is the advice an
    OutputError gives when it cannot be written."""
    content = render(results, form)
    if path == STDOUT:
        try:
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            # The reader went away (``| head``): what it took was all it wanted.
            pass
        return
    write_atomically(path, content, fix=fix)


def write_csv(results: Iterable[FieldResult], path: Path, fix: str = "free some space or choose another -o path") -> None:
    """Write the results CSV (``write_results`` in CSV)."""
    write_results(results, path, "csv", fix)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A results CSV's header and its rows, every value as the file spells it (``0.9000``,
    ``007``): what review reads, without pandas."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or ()), rows


def read_csv(path: Path) -> pandas.DataFrame:
    """Read a results CSV back as a pandas table with the contract's column types (text
    stays text); pandas comes with the audit extra."""
    import pandas as pd

    return pd.read_csv(path, dtype={"text": str, "marks": str, "value": str, "digit_confidences": str, "reason": str,
                                     "error": str, "template": str},
                       keep_default_na=False)
