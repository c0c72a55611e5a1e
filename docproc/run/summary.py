"""A run's counts: for the closing line, the JSON summary and the exit status."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from docproc import __version__
from docproc.output.atomic import write_atomically
from docproc.output.results import STATUSES, FieldResult


@dataclass
class RunSummary:
    """Counts for the closing line and the exit status."""

    files: int = 0
    files_read: int | None = None  # with a ledger: how many were read; the rest were unchanged
    failed_files: int = 0
    pages: int = 0
    fields: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    seconds: float = 0.0

    def count(self, rows: Iterable[FieldResult]) -> None:
        """Add ``rows`` to the field and status counts, and their files with an error row
        to the failed files."""
        failed = set()
        for row in rows:
            self.statuses[row.status] += 1
            if row.status == "error":
                failed.add(row.file)
            else:
                self.fields += 1
        self.failed_files += len(failed)

    def as_dict(self) -> dict[str, object]:
        """The counts as plain data, for the JSON summary monitoring reads."""
        read = self.files if self.files_read is None else self.files_read
        return {"files": self.files, "files_read": read, "files_unchanged": self.files - read,
                "failed_files": self.failed_files, "pages": self.pages, "fields": self.fields,
                **self.statuses, "seconds": round(self.seconds, 3),
                "pages_per_second": round(self.pages / self.seconds, 3) if self.seconds > 0 else 0.0}

    def line(self) -> str:
        """One line: pages, fields, ok/review/error, time."""
        s = self.statuses
        rate = self.pages / self.seconds if self.seconds > 0 else 0.0
        files = f"{self.files} files" if self.files_read is None else \
            f"{self.files} files ({self.files_read} read, {self.files - self.files_read} unchanged)"
        return (f"{files}, {self.pages} pages, {self.fields} fields: {s['ok']} ok, {s['review']} review, "
                f"{s['error']} error; {self.seconds:.1f} s ({rate:.1f} pages/s)")


def write_summary_json(path: Path, summary: RunSummary, output: Path, exit_code: int, error: str | None,
                       started: datetime.datetime, ended: datetime.datetime) -> None:
    """Write, atomically, what monitoring needs to judge a run however it ended: docproc's
    version, the output, the exit code and the message of what set it (None on success), when
    the run started and ended (ISO 8601 with the zone), and the counts so far."""
    report = {"version": __version__, "output": str(output), "exit_code": exit_code, "error_message": error,
              "started": started.isoformat(timespec="seconds"), "ended": ended.isoformat(timespec="seconds"),
              **summary.as_dict()}
    write_atomically(path, (json.dumps(report, indent=2) + "\n").encode())
