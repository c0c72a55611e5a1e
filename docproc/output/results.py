"""Field results and the results CSV (contract: docs/results-csv.md), written atomically."""

from __future__ import annotations

import os
import shutil
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
    """Fail before any work when the output's folder is missing, not writable or on a full disk."""
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


def write_csv(results: Iterable[FieldResult], path: Path, fix: str = "free some space or choose another -o path") -> None:
    """Write the results CSV atomically: a temporary file beside the target, fsynced, then
    renamed over it, so a crash leaves either the old file or the new one. ``fix`` is the
    advice an OutputError gives when it cannot be written."""
    import pandas as pd  # here, not at the top: worker processes need the rows, not pandas

    frame = pd.DataFrame([r.row() for r in results], columns=COLUMNS)
    content = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    write_atomically(path, content, fix=fix)


def read_csv(path: Path) -> pandas.DataFrame:
    """Read a results CSV back with the contract's column types (text stays text)."""
    import pandas as pd

    return pd.read_csv(path, dtype={"text": str, "marks": str, "value": str, "digit_confidences": str, "reason": str,
                                     "error": str, "template": str},
                       keep_default_na=False)
