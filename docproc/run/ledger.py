"""The run ledger: an SQLite file that remembers every input read and the rows it gave.

Each input is recorded by its absolute path with its size, modification time and
SHA-256, and with fingerprints of what its rows depend on (template, models, reading
options). A file and its rows are committed in one transaction, so a run killed at any
moment leaves each file either wholly recorded or not at all, and the next run picks up
where it stopped. The results CSV is rendered from the ledger, never appended to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from docproc.errors import DiskFullError, LedgerError, OutputError, is_disk_full
from docproc.output.results import FieldDetail, FieldResult

SCHEMA_VERSION = 5
# How a ledger of an older schema is brought up to the next, in place, one version after
# another: version 2 added the rows' marks (their files are read again anyway, as their
# model changed with it), version 3 the document each row belongs to on its page (1 for
# every row written before: documents were not split then), version 4 why a row is review
# or error and an amount's or date's value, version 5 the detail the JSON Lines output
# gives (page size, digit boxes, n best readings). The rows before have them empty: their
# files are read again, as the reading code changed with them.
_MIGRATIONS = {"1": ("ALTER TABLE rows ADD COLUMN marks TEXT NOT NULL DEFAULT ''",),
               "2": ("ALTER TABLE rows ADD COLUMN part INTEGER NOT NULL DEFAULT 1",),
               "3": ("ALTER TABLE rows ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
                     "ALTER TABLE rows ADD COLUMN value TEXT NOT NULL DEFAULT ''"),
               "4": ("ALTER TABLE rows ADD COLUMN detail TEXT NOT NULL DEFAULT '{}'",)}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (
    path TEXT PRIMARY KEY,          -- absolute path, as given (links not resolved)
    name TEXT NOT NULL,             -- the CSV 'file' name when it was read
    size INTEGER,                   -- NULL when the file could not be examined
    mtime_ns INTEGER,
    sha256 TEXT,
    checked_ns INTEGER NOT NULL,    -- when size and mtime were taken (racy-mtime check)
    template_hash TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    options_hash TEXT NOT NULL,
    pages INTEGER NOT NULL,
    has_error INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    path TEXT NOT NULL REFERENCES inputs(path) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    page INTEGER NOT NULL,
    template TEXT NOT NULL,
    field TEXT NOT NULL,
    text TEXT NOT NULL,
    confidence REAL NOT NULL,
    digit_confidences TEXT NOT NULL, -- JSON list: floats round-trip exactly
    status TEXT NOT NULL,
    error TEXT NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    marks TEXT NOT NULL DEFAULT '',  -- the reading with its marks (schema 2)
    part INTEGER NOT NULL DEFAULT 1, -- the document on the page, from 1 (schema 3)
    reason TEXT NOT NULL DEFAULT '', -- why the row is review or error (schema 4)
    value TEXT NOT NULL DEFAULT '',  -- an amount's or date's value (schema 4)
    detail TEXT NOT NULL DEFAULT '{}', -- JSON: page size, dpi, digit boxes, n best (schema 5)
    PRIMARY KEY (path, seq)
);
"""


@dataclass(frozen=True)
class Fingerprint:
    """What a file's rows depend on besides its bytes; any change means reading it again."""

    template_hash: str
    model_hash: str
    options_hash: str


@dataclass(frozen=True)
class InputRecord:
    """One input as the ledger knows it."""

    path: str
    name: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    checked_ns: int
    fingerprint: Fingerprint
    pages: int
    has_error: bool


# A ledger kept in memory for one run (SQLite's name for it): results written to
# standard output with no --ledger read every file.
IN_MEMORY = Path(":memory:")


def default_ledger_path(output: Path) -> Path:
    """Where the ledger lives unless told otherwise: beside the results CSV."""
    return output.with_name(output.name + ".ledger.sqlite")


class Ledger:
    """An open ledger file. Use as a context manager; every write is its own transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        damaged = (f"ledger {path} is damaged or is not a docproc ledger; move it aside (the next run then "
                   "reads every file again) or give --ledger another path")
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise OutputError(f"cannot open ledger {path}: {exc}; check the folder's permissions "
                              "or give --ledger another path") from exc
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            stored = self._stored_schema()
            if stored in _MIGRATIONS:
                # One transaction: SQLite's ALTER TABLE is transactional.
                self._db.execute("BEGIN IMMEDIATE")
                while stored in _MIGRATIONS:
                    for statement in _MIGRATIONS[stored]:
                        self._db.execute(statement)
                    stored = str(int(stored) + 1)
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (stored,))
                self._db.execute("COMMIT")
            self._db.executescript(_SCHEMA)
            if stored is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif stored != str(SCHEMA_VERSION):
                raise LedgerError(f"ledger {path} has schema {stored}, this docproc writes {SCHEMA_VERSION}; "
                                  "move it aside (the next run reads every file again) or give --ledger another path")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise OutputError(f"cannot write ledger {path}: {exc}; check its permissions "
                                  "or give --ledger another path") from exc
            raise LedgerError(damaged) from exc
        except LedgerError:
            self._db.close()
            raise

    def _stored_schema(self) -> str | None:
        """The schema version the file records; None for a new file."""
        has_meta = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if has_meta is None:
            return None
        stored = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return None if stored is None else str(stored[0])

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def records(self) -> dict[str, InputRecord]:
        """Every recorded input, by path."""
        found = {}
        for row in self._db.execute(
                "SELECT path, name, size, mtime_ns, sha256, checked_ns, template_hash, model_hash, options_hash, "
                "pages, has_error FROM inputs"):
            found[row[0]] = InputRecord(row[0], row[1], row[2], row[3], row[4], row[5],
                                        Fingerprint(row[6], row[7], row[8]), row[9], bool(row[10]))
        return found

    def commit(self, record: InputRecord, rows: Iterable[FieldResult]) -> None:
        """Replace ``record``'s input and all its rows, in one transaction."""
        values = [(record.path, seq, r.page, r.template, r.field, r.text, r.confidence,
                   json.dumps(list(r.digit_confidences)), r.status, r.error, *r.box, r.marks, r.part, r.reason, r.value,
                   r.detail.to_json())
                  for seq, r in enumerate(rows)]
        fp = record.fingerprint
        self._write([
            ("DELETE FROM rows WHERE path = ?", [(record.path,)]),
            ("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             [(record.path, record.name, record.size, record.mtime_ns, record.sha256, record.checked_ns,
               fp.template_hash, fp.model_hash, fp.options_hash, record.pages, int(record.has_error))]),
            ("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values),
        ])

    def restat(self, path: str, size: int, mtime_ns: int, checked_ns: int) -> None:
        """Record a new size and time for an input whose content proved unchanged."""
        self._write([("UPDATE inputs SET size = ?, mtime_ns = ?, checked_ns = ? WHERE path = ?",
                      [(size, mtime_ns, checked_ns, path)])])

    def rows(self, paths: list[str]) -> dict[str, list[FieldResult]]:
        """The recorded rows of ``paths`` (each in its original order), with the name each was read under."""
        found: dict[str, list[FieldResult]] = {p: [] for p in paths}
        # Only the wanted inputs: a ledger that has seen a year of nightly folders holds far
        # more rows than tonight's CSV.
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (path TEXT PRIMARY KEY)")
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM wanted")
        self._db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(p,) for p in paths])
        self._db.execute("COMMIT")
        for row in self._db.execute("SELECT r.path, i.name, r.page, r.template, r.field, r.text, r.confidence, "
                                    "r.digit_confidences, r.status, r.error, r.x, r.y, r.w, r.h, r.marks, r.part, r.reason, "
                                    "r.value, r.detail "
                                    "FROM wanted w JOIN rows r ON r.path = w.path JOIN inputs i ON i.path = r.path "
                                    "ORDER BY r.path, r.seq"):
            found[row[0]].append(FieldResult(row[1], row[2], row[3], row[4], row[5], row[6],
                                             tuple(json.loads(row[7])), row[8], row[9],
                                             (row[10], row[11], row[12], row[13]), row[14], row[15], row[16],
                                             row[17], FieldDetail.from_json(row[18])))
        return found

    def _write(self, statements: list[tuple[str, list[tuple[object, ...]]]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, values in statements:
                    self._db.executemany(sql, values)
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back a transaction it could not write (a full
                # disk): a second rollback would only hide why.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if is_disk_full(exc):
                raise DiskFullError(f"cannot write ledger {self.path}: the disk is full ({exc}); every file committed "
                                    "before is kept in it, and the file being read when it filled is not; free some "
                                    "space and rerun: the run goes on from that file") from exc
            raise OutputError(f"cannot write ledger {self.path}: {exc}; free some space, check its permissions, "
                              "or give --ledger another path") from exc
