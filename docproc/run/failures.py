"""Why reading a file stopped, as plain data, and the one place it becomes an error row.

A stage that cannot read a file on raises ``FileReadFailed``; the drivers (this process,
the worker pool, the Dask workers) catch it, or meet a time limit or a dead worker, and
hand a ``FileFailure`` on beside the pages that were read. ``FileFailure.row`` is the
file's error row in the results.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from docproc.ingest.inputs import InputFile
from docproc.output.results import FieldResult

# The error rows' reasons.
CANNOT_READ = "file cannot be read"
INTERNAL_ERROR = "internal error"
TIMED_OUT = "timed out"
WORKER_DIED = "worker died"
NOT_ON_WORKER = "file not on the Dask worker"


@dataclass(frozen=True)
class FileFailure:
    """What ended the reading of a file: the page it happened on, what to tell the user,
    and for an internal error, its traceback (for the log, not the results)."""

    page: int
    message: str
    traceback: str = ""
    # The kind of failure, for the row's reason column: a few fixed phrases (docs/results-csv.md).
    kind: str = CANNOT_READ

    def row(self, item: InputFile, template_name: str) -> FieldResult:
        """The file's error row."""
        return FieldResult(item.name, self.page, template_name, "", status="error", error=self.message,
                           reason=self.kind)


class FileReadFailed(Exception):
    """Raised by a stage when a file cannot be read on; carries the ``FileFailure``."""

    def __init__(self, failure: FileFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def internal_error(page: int, exc: BaseException) -> FileFailure:
    """A bug in docproc met while reading a file at ``page``: the file gets an error row
    that asks for a report, the run goes on."""
    detail = " ".join(str(exc).split())[:200]
    return FileFailure(page, f"internal error ({type(exc).__name__}{': ' + detail if detail else ''}); the rest of "
                             "the run went on. Please report it with the traceback from the log (--log-file, or -v), "
                             "or rerun with --raise-on-error to stop there",
                       "".join(traceback.format_exception(exc)), INTERNAL_ERROR)


def timed_out(page: int, seconds: float | None) -> FileFailure:
    """A file stopped by --file-timeout at ``page``."""
    return FileFailure(page, f"stopped after {seconds or 0:g} s (--file-timeout): the file hangs or reads "
                             "too slowly; check it, or raise the limit", kind=TIMED_OUT)


def killed_after(page: int, seconds: float | None) -> FileFailure:
    """A file whose worker was killed because it was still stuck well past --file-timeout
    (inside native code, where the file's own timer cannot stop it), from ``page`` on."""
    return FileFailure(page, f"stopped after {seconds or 0:g} s (--file-timeout): stuck inside a decoder, so its "
                             "worker process was killed and replaced; check the file, or raise the limit",
                       kind=TIMED_OUT)


def worker_died(page: int) -> FileFailure:
    """A file whose worker process died while reading it (from ``page`` on)."""
    return FileFailure(page, "the worker process reading this file died (out of memory, or a crash in a decoder); "
                             "check the file, or run it alone with --jobs 1", kind=WORKER_DIED)


def dask_workers_died(kind: str) -> FileFailure:
    """A file whose Dask workers died reading it (``kind``: the exception's name)."""
    return FileFailure(1, f"the Dask workers reading this file died ({kind}); check the file, "
                          "or read it locally without --scheduler", kind=WORKER_DIED)


def not_on_dask_worker(host: str) -> FileFailure:
    """A file that a Dask worker on ``host`` cannot see."""
    return FileFailure(1, f"file not found on Dask worker {host}; if it exists where docproc was started, the workers "
                          "must see the scans at the same paths (shared storage)", kind=NOT_ON_WORKER)
