"""The review store: an SQLite file that keeps every keyed field the moment it is keyed.

Each accepted field is one transaction: the keyed value, the machine's reading, who keyed
it and when, and an event in an append-only log (an undo adds an event; nothing keyed
is ever deleted from the log). Fields are claimed while shown, so two operators, two
browsers or two stations on one store never key the same field twice; a claim lapses
after ``HOLD_S`` seconds so a closed browser does not hold its field for ever. Keyed
values are tied to the scan's SHA-256: a scan that changed under the same name is
queued again instead of being given a value keyed off another image.

The store lives beside the results (``RESULTS.review.sqlite``), apart from the run
ledger, so moving a ledger aside to read every file again keeps what people keyed.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, astuple, dataclass, replace
from pathlib import Path

from docproc.errors import ReviewError
from docproc.review.queue import QueueItem

SCHEMA_VERSION = 1
# How long a field shown to an operator is held for them: long enough to read and key a
# hard field, short enough that a browser closed mid-field frees it soon.
HOLD_S = 300.0
# What a keyed field is: a value read off the scan, a field no one can read, or one that is empty.
KINDS = ("value", "unreadable", "blank")
# A window of recent work that fields per minute are counted over.
RATE_WINDOW_S = 600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY,        -- the order fields are shown in
    key TEXT NOT NULL UNIQUE,       -- queue.field_key: file, page, part, field
    sha256 TEXT NOT NULL,           -- the scan's SHA-256 when the queue was built ('' when not at hand)
    item TEXT NOT NULL,             -- the QueueItem as JSON
    done INTEGER NOT NULL DEFAULT 0 -- 1 while a keyed row counts for it (_same_scan), kept with every key and undo
);
CREATE INDEX IF NOT EXISTS queue_free ON queue (done, seq);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,           -- 'keyed' or 'undone'
    key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    marks TEXT NOT NULL,
    machine_text TEXT NOT NULL,
    operator TEXT NOT NULL,
    at REAL NOT NULL                -- seconds since the epoch
);
-- What is keyed now: each field's 'keyed' event that has not been taken back.
CREATE TABLE IF NOT EXISTS keyed (
    key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    event INTEGER NOT NULL UNIQUE REFERENCES events(id),
    PRIMARY KEY (key, sha256)
);
CREATE INDEX IF NOT EXISTS events_by_operator ON events (operator, action, at);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, operator TEXT NOT NULL, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS skips (operator TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL,
                                  PRIMARY KEY (operator, key));
"""


def _same_scan(q: str) -> str:
    """SQL: keyed row ``k`` counts for queued row ``q``: the same field, both taken off the
    same scan, or either without the scan's hash (the scans were not at hand)."""
    return f"(k.key = {q}.key AND (k.sha256 = {q}.sha256 OR k.sha256 = '' OR {q}.sha256 = ''))"


# A Keyed entry's columns in the log, in the dataclass's order.
_ENTRY = "e.key, e.sha256, e.kind, e.text, e.marks, e.machine_text, e.operator, e.at"
# Where a queued field's done flag is worked out again: after a queue is loaded, a key or an undo.
_RECOUNT = f"UPDATE queue SET done = EXISTS (SELECT 1 FROM keyed k WHERE {_same_scan('queue')})"


@dataclass(frozen=True)
class Keyed:
    """One keyed field: its key, the scan's hash, what kind of entry (``KINDS``), the keyed
    digits and the reading with its marks, the machine's reading, who keyed it and when
    (seconds since the epoch)."""

    key: str
    sha256: str
    kind: str
    text: str
    marks: str
    machine_text: str
    operator: str
    at: float

    @property
    def at_iso(self) -> str:
        """When it was keyed, in ISO 8601 (UTC, to the second)."""
        return dt.datetime.fromtimestamp(self.at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Shown:
    """The field an operator is to key next (None when the queue is done for them), with
    the value they keyed before where an undo brought it back."""

    seq: int
    item: QueueItem
    undone: Keyed | None = None


@dataclass(frozen=True)
class Progress:
    """How far the queue is: fields in it, keyed, left, and the operator's fields per
    minute over their recent work (None until they have keyed two)."""

    total: int
    done: int
    left: int
    per_minute: float | None


class Refused(Exception):
    """A field cannot be keyed: someone keyed it already, or it is held for another operator."""


def _item_json(item: QueueItem) -> str:
    return json.dumps(asdict(item), ensure_ascii=False)


def _item(text: str) -> QueueItem:
    data = json.loads(text)
    return QueueItem(**{**data, "digit_confidences": tuple(data["digit_confidences"]), "box": tuple(data["box"]),
                        "alternatives": tuple(tuple(a) for a in data["alternatives"])})


def default_store_path(results: Path) -> Path:
    """Where the store lives unless told otherwise: beside the results."""
    return results.with_name(results.name + ".review.sqlite")


class ReviewStore:
    """An open review store. Safe to use from several threads (one SQLite connection each)
    and from several processes (SQLite's locking; every write is ``BEGIN IMMEDIATE``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        db = self._db()
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
            with self._write() as w:
                stored = w.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if stored is None:
                    w.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif stored[0] != str(SCHEMA_VERSION):
                    raise ReviewError(f"review store {path} has schema {stored[0]}, this docproc writes "
                                      f"{SCHEMA_VERSION}; use the docproc that made it, or give --store another path")
        except sqlite3.DatabaseError as exc:
            raise ReviewError(f"review store {path} is damaged or is not a docproc review store ({exc}); give --store "
                              "another path (keep this file: it may hold keyed fields)") from exc

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
            except sqlite3.Error as exc:
                raise ReviewError(f"cannot open review store {self.path}: {exc}; check the folder's permissions or "
                                  "give --store another path") from exc
            self._local.db = db
        return db

    def _write(self) -> _Transaction:
        return _Transaction(self._db())

    @property
    def salt(self) -> str:
        """The store's secret for choosing the quality-control sample (queue.sampled)."""
        return self.secret("sample-salt")

    def secret(self, name: str) -> str:
        """A random secret kept in the store under ``name``, made the first time it is asked for."""
        with self._write() as w:
            found = w.execute("SELECT value FROM meta WHERE key = ?", (f"secret:{name}",)).fetchone()
            if found is not None:
                return str(found[0])
            value = secrets.token_urlsafe(24)
            w.execute("INSERT INTO meta VALUES (?, ?)", (f"secret:{name}", value))
            return value

    def load_queue(self, items: Iterable[tuple[QueueItem, str]]) -> None:
        """Replace the queue with ``items`` (each with its scan's SHA-256, '' when not at
        hand), in the order they are to be shown. What was keyed is kept."""
        with self._write() as w:
            w.execute("DELETE FROM queue")
            w.executemany("INSERT INTO queue (seq, key, sha256, item) VALUES (?, ?, ?, ?)",
                          [(seq, item.key, sha, _item_json(item)) for seq, (item, sha) in enumerate(items)])
            w.execute(_RECOUNT)

    def item(self, seq: int) -> QueueItem | None:
        """The queued field at ``seq``; None when the queue has none there."""
        found = self._db().execute("SELECT item FROM queue WHERE seq = ?", (seq,)).fetchone()
        return None if found is None else _item(found[0])

    def upcoming(self, seq: int, count: int) -> list[tuple[int, QueueItem]]:
        """The next ``count`` fields after ``seq`` that no one has keyed, with their places
        (to cut their crops ahead)."""
        return [(row[0], _item(row[1])) for row in self._db().execute(
            "SELECT seq, item FROM queue WHERE done = 0 AND seq > ? ORDER BY seq LIMIT ?", (seq, count))]

    def next_for(self, operator: str, now: float | None = None) -> Shown | None:
        """Claim and return the next field for ``operator``: the first in queue order that
        no one has keyed and no one else holds, fields they skipped last (oldest skip
        first); None when none is left for them. Their other claims are let go."""
        now = time.time() if now is None else now
        free = ("q.done = 0 AND NOT EXISTS "
                "(SELECT 1 FROM claims c WHERE c.key = q.key AND c.operator <> :op AND c.until > :now)")
        with self._write() as w:
            found = w.execute(f"SELECT q.seq, q.item, q.key FROM queue q WHERE {free} AND NOT EXISTS "
                              "(SELECT 1 FROM skips s WHERE s.operator = :op AND s.key = q.key) ORDER BY q.seq LIMIT 1",
                              {"op": operator, "now": now}).fetchone()
            if found is None:
                found = w.execute(f"SELECT q.seq, q.item, q.key FROM queue q JOIN skips s ON s.key = q.key AND "
                                  f"s.operator = :op WHERE {free} ORDER BY s.at, q.seq LIMIT 1",
                                  {"op": operator, "now": now}).fetchone()
            w.execute("DELETE FROM claims WHERE operator = ?", (operator,))
            if found is None:
                return None
            w.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (found[2], operator, now + HOLD_S))
        return Shown(found[0], _item(found[1]))

    def key_field(self, operator: str, key: str, kind: str, text: str, marks: str, now: float | None = None) -> Keyed:
        """Commit ``operator``'s entry for the field ``key``: Refused when someone keyed it
        already or another operator holds it, ReviewError when it is not in the queue."""
        if kind not in KINDS:
            raise ReviewError(f"unknown entry kind {kind!r}; one of {', '.join(KINDS)}")
        now = time.time() if now is None else now
        with self._write() as w:
            queued = w.execute("SELECT sha256, item FROM queue WHERE key = ?", (key,)).fetchone()
            if queued is None:
                raise ReviewError(f"field {key} is not in this review queue")
            sha, item = queued[0], _item(queued[1])
            done = w.execute(f"SELECT e.operator FROM queue q JOIN keyed k ON {_same_scan('q')} JOIN events e ON "
                             "e.id = k.event WHERE q.key = :key", {"key": key}).fetchone()
            if done is not None:
                raise Refused(f"already keyed by {done[0]}")
            held = w.execute("SELECT operator FROM claims WHERE key = ? AND operator <> ? AND until > ?",
                             (key, operator, now)).fetchone()
            if held is not None:
                raise Refused(f"held by {held[0]}")
            entry = Keyed(key, sha, kind, text, marks, item.text, operator, now)
            event = self._log(w, "keyed", entry)
            w.execute("INSERT INTO keyed VALUES (?, ?, ?)", (key, sha, event))
            w.execute(f"{_RECOUNT} WHERE key = ?", (key,))
            w.execute("DELETE FROM claims WHERE key = ?", (key,))
            w.execute("DELETE FROM skips WHERE key = ?", (key,))
        return entry

    def skip(self, operator: str, key: str, now: float | None = None) -> None:
        """``operator`` passes over the field ``key`` for now: it comes back to them after
        the rest, and is free for others at once."""
        now = time.time() if now is None else now
        with self._write() as w:
            w.execute("INSERT OR REPLACE INTO skips VALUES (?, ?, ?)", (operator, key, now))
            w.execute("DELETE FROM claims WHERE key = ? AND operator = ?", (key, operator))

    def undo(self, operator: str, now: float | None = None) -> Shown | None:
        """Take back ``operator``'s last keyed field (still keyed by them): it is queued
        again, held for them, and returned with what they keyed. None when there is none."""
        now = time.time() if now is None else now
        with self._write() as w:
            last = w.execute(f"SELECT {_ENTRY} FROM keyed k JOIN events e ON e.id = k.event WHERE e.operator = ? "
                             "ORDER BY k.event DESC LIMIT 1", (operator,)).fetchone()
            if last is None:
                return None
            entry = Keyed(*last)
            w.execute("DELETE FROM keyed WHERE key = ? AND sha256 = ?", (entry.key, entry.sha256))
            w.execute(f"{_RECOUNT} WHERE key = ?", (entry.key,))
            self._log(w, "undone", replace(entry, at=now))
            w.execute("DELETE FROM claims WHERE operator = ?", (operator,))
            w.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (entry.key, operator, now + HOLD_S))
            queued = w.execute("SELECT seq, item FROM queue WHERE key = ?", (entry.key,)).fetchone()
        if queued is None:  # keyed off an earlier queue that no longer holds it
            return None
        return Shown(queued[0], _item(queued[1]), entry)

    def progress(self, operator: str, now: float | None = None) -> Progress:
        """Fields in the queue, keyed and left, and ``operator``'s recent rate."""
        now = time.time() if now is None else now
        db = self._db()
        total = db.execute("SELECT count(*) FROM queue").fetchone()[0]
        done = db.execute("SELECT count(*) FROM queue WHERE done = 1").fetchone()[0]
        times = [t for (t,) in db.execute("SELECT at FROM events WHERE operator = ? AND action = 'keyed' AND at > ? "
                                          "ORDER BY at", (operator, now - RATE_WINDOW_S))]
        rate = (len(times) - 1) / max((times[-1] - times[0]) / 60.0, 1e-6) if len(times) >= 2 else None
        return Progress(total, done, total - done, rate)

    def keyed(self) -> list[Keyed]:
        """Every field keyed and not taken back, oldest first."""
        return [Keyed(*row) for row in self._db().execute(
            f"SELECT {_ENTRY} FROM keyed k JOIN events e ON e.id = k.event ORDER BY k.event")]

    def events(self) -> list[tuple[str, Keyed]]:
        """The whole log: (``keyed`` or ``undone``, the entry), oldest first."""
        return [(row[0], Keyed(*row[1:])) for row in self._db().execute(
            f"SELECT e.action, {_ENTRY} FROM events e ORDER BY e.id")]

    @staticmethod
    def _log(w: sqlite3.Connection, action: str, entry: Keyed) -> int:
        """Append ``entry`` to the log as ``action``; its event id."""
        return int(w.execute(f"INSERT INTO events (action, {_ENTRY.replace('e.', '')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (action, *astuple(entry))).lastrowid)

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any failure), so a write from
    another process waits for this one instead of interleaving with it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")
