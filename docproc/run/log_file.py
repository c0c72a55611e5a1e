"""The ``--log-file`` handler: docproc's log appended to a file, which says so once, in
one line, when the disk fills under it, instead of a traceback for every record."""

from __future__ import annotations

import logging
import sys

from docproc.errors import is_disk_full


class LogFile(logging.FileHandler):
    """A FileHandler that stops writing when the disk is full: the run goes on (its ledger
    may be on another disk), stderr says once what happened and where the log stops."""

    def __init__(self, filename: str, encoding: str = "utf-8") -> None:
        super().__init__(filename, encoding=encoding)
        self.full = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.full:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        problem = sys.exc_info()[1]
        if problem is None or not is_disk_full(problem):
            super().handleError(record)
            return
        self.full = True
        # What is left in the buffer cannot be written either: drop it with the stream, or
        # closing the handler at exit would fail again.
        stream, self.stream = self.stream, None  # type: ignore[assignment]
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass  # the same full disk, said below
        sys.stderr.write(f"docproc: warning: the disk holding the log file {self.baseFilename} is full; the log stops "
                         f"before \"{record.getMessage()[:120]}\" (the run goes on; stderr and --summary-json still "
                         "report it)\n")
