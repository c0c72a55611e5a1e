"""Which inputs a run reads: new and changed files, files whose fingerprint changed,
files that had an error; the rest keep the rows the ledger holds."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from docproc.ingest.inputs import InputFile
from docproc.run.fingerprint import file_sha256
from docproc.run.ledger import Fingerprint, InputRecord

# A file modified this close before it was examined may change again within the same
# mtime tick without its size or time showing it (git's "racy clean" problem): such a
# file is confirmed by its hash on the next run instead of trusted by its time.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class FileState:
    """What ``os.stat`` says of an input, and when it was asked."""

    size: int
    mtime_ns: int
    checked_ns: int
    regular: bool


@dataclass(frozen=True)
class Step:
    """What this run does with one input: ``read`` it (and why), or ``skip`` it."""

    file: InputFile
    key: str
    action: str  # "read" or "skip"
    reason: str
    state: FileState | None = None
    sha256: str | None = None


def _examine(path: Path) -> FileState | None:
    checked_ns = time.time_ns()
    try:
        found = os.stat(path)
    except OSError:
        return None
    return FileState(found.st_size, found.st_mtime_ns, checked_ns, stat.S_ISREG(found.st_mode))


def _content_hash(path: Path, state: FileState | None) -> str | None:
    # Only regular files: opening a named pipe would block.
    if state is None or not state.regular:
        return None
    try:
        return file_sha256(path)
    except OSError:
        return None


def _why_read(record: InputRecord | None, fingerprint: Fingerprint, force: bool) -> str | None:
    if force:
        return "--force"
    if record is None:
        return "new"
    if record.has_error:
        return "had an error"
    if record.fingerprint.template_hash != fingerprint.template_hash:
        return "template changed"
    if record.fingerprint.model_hash != fingerprint.model_hash:
        return "model changed"
    if record.fingerprint.options_hash != fingerprint.options_hash:
        return "reading options changed"
    return None


def plan(files: list[InputFile], records: dict[str, InputRecord], fingerprint: Fingerprint,
         force: bool = False) -> list[Step]:
    """Decide, for each input, whether to read it or keep its recorded rows."""
    steps = []
    for item in files:
        key = os.path.abspath(item.path)
        record = records.get(key)
        state = _examine(item.path)
        reason = _why_read(record, fingerprint, force)
        # Hashed before the read: if the file changes after this, its time or hash shows it next run.
        digest = None
        if reason is None and record is not None:
            if state is None:
                reason = "cannot be examined"
            elif (state.size, state.mtime_ns) == (record.size, record.mtime_ns) and \
                    record.mtime_ns < record.checked_ns - RACY_NS:
                steps.append(Step(item, key, "skip", "unchanged"))
                continue
            else:
                digest = _content_hash(item.path, state)
                if digest is not None and digest == record.sha256:
                    # Touched or copied with a new time, same bytes: nothing to read.
                    steps.append(Step(item, key, "skip", "same content", state, digest))
                    continue
                reason = "changed"
        else:
            digest = _content_hash(item.path, state)
        steps.append(Step(item, key, "read", reason, state, digest))
    return steps
