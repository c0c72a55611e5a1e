"""Typed failures. Each carries the process exit code and a message that says how to fix it.

docs/exit-codes.md lists these codes (and 2, bad usage, which the CLI reports); tests/test_errors.py keeps the two in step.
"""

from __future__ import annotations


class DocprocError(Exception):
    """Base class: a failure the user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputFileError(DocprocError):
    """An input file is missing, unreadable or not a supported document."""

    exit_code = 3


class TemplateError(DocprocError):
    """A field template is malformed; refused before any page is read."""

    exit_code = 4


class ModelError(DocprocError):
    """The model file is missing, corrupt, or does not follow the model contract."""

    exit_code = 5


class DatasetError(DocprocError):
    """Training data could not be fetched, or failed its checksum."""

    exit_code = 6


class OutputError(DocprocError):
    """An output file or folder cannot be written."""

    exit_code = 7


class AuditInputError(DocprocError):
    """A results or truth CSV given to an audit is malformed or matches nothing."""

    exit_code = 8


class BusyError(DocprocError):
    """Another run is writing the same output; this one did nothing."""

    exit_code = 9


class LedgerError(DocprocError):
    """The run ledger is damaged or from another version; move it aside to start afresh."""

    exit_code = 10


class ClusterError(DocprocError):
    """The Dask scheduler cannot be reached, or Dask is not installed."""

    exit_code = 11


class DiskFullError(OutputError):
    """The disk (or the user's quota) filled while docproc wrote. The message says what was
    kept: every file committed to the ledger before it, and the previous output files."""

    exit_code = 13


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk or quota is full: ENOSPC or EDQUOT from the OS, or
    SQLite's SQLITE_FULL ("database or disk is full")."""
    import errno
    import sqlite3

    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


class MissingInputError(DocprocError):
    """An input path given to the command does not exist; nothing was read."""

    exit_code = 12


class ReviewError(DocprocError):
    """The results, template or review store given to ``docproc review`` cannot be used."""

    exit_code = 14


class StationError(DocprocError):
    """The review station cannot start serving: its port is taken or its address is not this machine's."""

    exit_code = 15


class MissingExtraError(DocprocError):
    """The command needs an optional part of docproc that this install lacks (Keras and
    TensorFlow come with ``docproc[train]``); the message says which to install."""

    exit_code = 16
