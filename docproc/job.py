"""A whole `docproc run` job over a ledger: decide which inputs need reading, read only
those (committing each file as it completes), and render the results CSV from the ledger.

A rerun over the same folder skips files whose size and modification time are as
recorded (and, where that is doubtful, whose SHA-256 is), reads new and changed files,
and re-reads every file when the template, the models or the reading options change.
Files with an error row are always read again: the error may have been passing (a file
still being copied, a permission since fixed). The CSV holds the rows of this run's
inputs, each file's current rows exactly once, in input order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from docproc.classify import DEFAULT_BATCH_SIZE, SHIPPED_CHECK, DigitClassifier, load_classifier, peers_beside
from docproc.errors import ModelError
from docproc.inputs import InputFile
from docproc.ledger import Fingerprint, InputRecord, Ledger
from docproc.pipeline import FileRows, RunOptions, RunSummary, run_files
from docproc.results import FieldResult, write_csv

log = logging.getLogger("docproc")

# A file modified this close before it was examined may change again within the same
# mtime tick without its size or time showing it (git's "racy clean" problem): such a
# file is confirmed by its hash on the next run instead of trusted by its time.
RACY_NS = 2_000_000_000
_CHUNK = 1 << 20


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


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def reading_fingerprint(options: RunOptions, model_paths: list[Path]) -> Fingerprint:
    """Fingerprints of the template (its meaning, so comments and layout may change), the
    model files (their bytes) and the options that change readings (not batch size,
    which does not, nor the file timeout, whose failures are read again anyway)."""
    template = options.template
    if template is None:
        template_hash = ""
    else:
        template_hash = _text_sha256(json.dumps({
            "name": template.name,
            "fields": [[f.name, list(f.box), f.min_length, f.max_length, f.pattern.pattern if f.pattern else None]
                       for f in template.fields],
        }))
    models = hashlib.sha256()
    for path in model_paths:
        try:
            models.update(file_sha256(path).encode())
        except OSError as exc:
            raise ModelError(f"Model file {path} cannot be read ({exc.strerror or exc}). Pass --model PATH to a "
                             ".keras file, or restore models/ from the repository.") from exc
    settings: list[object] = [options.pdf_dpi, options.image_dpi, options.force_image_dpi, options.review_below,
                              options.max_pixels]
    if options.direct_pdf_scans:
        # Only when set, so the ledgers of runs from before the option keep their hash.
        settings.append("direct-pdf-scans")
    options_hash = _text_sha256(json.dumps(settings))
    return Fingerprint(template_hash, models.hexdigest(), options_hash)


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


def _record(step: Step, done_rows: list[FieldResult], pages: int, fingerprint: Fingerprint) -> InputRecord:
    state = step.state
    return InputRecord(step.key, step.file.name, state.size if state else None, state.mtime_ns if state else None,
                       step.sha256, state.checked_ns if state else time.time_ns(), fingerprint, pages,
                       any(r.status == "error" for r in done_rows))


@dataclass(frozen=True)
class Readers:
    """Who reads: the digit model and the single-digit check, the batch size, and where
    the work runs (``jobs`` local worker processes, or a Dask cluster at ``scheduler``,
    ``local`` for one of ``jobs`` processes on this machine)."""

    model_path: Path
    check_path: Path = SHIPPED_CHECK
    batch_size: int = DEFAULT_BATCH_SIZE
    jobs: int = 1
    scheduler: str | None = None

    def load(self) -> DigitClassifier:
        """The classifier, loaded in this process."""
        return load_classifier(self.model_path, batch_size=self.batch_size)

    def model_files(self) -> list[Path]:
        """The files whose bytes decide the readings: the digit model, the check, and the
        digit model's peers where it has them."""
        peers = peers_beside(self.model_path)
        return [self.model_path, self.check_path, *([peers] if peers is not None else [])]


def run_job(files: list[InputFile], options: RunOptions, ledger: Ledger, output: Path, readers: Readers,
            force: bool = False, on_page: Callable[[InputFile, int], None] | None = None,
            on_plan: Callable[[list[Step]], None] | None = None,
            load: Callable[[], DigitClassifier] | None = None) -> RunSummary:
    """Read what the ledger does not already hold, commit each file as it completes, and
    write ``output`` from the ledger. The classifier (``load``, default ``readers.load``)
    is loaded only when some file needs reading, and never for a Dask cluster, whose
    workers load their own."""
    started = time.perf_counter()
    fingerprint = reading_fingerprint(options, readers.model_files())
    steps = plan(files, ledger.records(), fingerprint, force)
    to_read = [s for s in steps if s.action == "read"]
    reasons = Counter(s.reason for s in to_read)
    log.info("%d of %d files to read%s", len(to_read), len(steps),
             f" ({', '.join(f'{n} {why}' for why, n in reasons.most_common())})" if to_read else "")
    if on_plan is not None:
        on_plan(steps)
    for step in steps:
        if step.action == "skip" and step.state is not None:
            ledger.restat(step.key, step.state.size, step.state.mtime_ns, step.state.checked_ns)

    summary = RunSummary(files=len(files), files_read=len(to_read))
    if to_read:
        by_name = {id(s.file): s for s in to_read}

        def page_read(item: InputFile, number: int) -> None:
            log.info("%s page %d: read", item.name, number)
            if on_page is not None:
                on_page(item, number)

        files_to_read = [s.file for s in to_read]
        done_files: Iterator[FileRows]
        if readers.scheduler is not None:
            from docproc.cluster import run_files_on_cluster

            done_files = run_files_on_cluster(files_to_read, options, readers.scheduler,
                                              [readers.model_path, readers.check_path], readers.batch_size,
                                              readers.jobs, page_read)
        else:
            # Loaded by run_files once its workers have their first files: they start meanwhile.
            done_files = run_files(files_to_read, load or readers.load, options, page_read, readers.jobs)
        for done in done_files:
            step = by_name[id(done.file)]
            ledger.commit(_record(step, done.rows, done.pages, fingerprint), done.rows)
            summary.pages += done.pages
            for row in done.rows:
                if row.status == "error":
                    log.warning("%s page %d: %s", row.file, row.page, row.error)

    recorded = ledger.rows([s.key for s in steps])
    rows = [dataclasses.replace(row, file=step.file.name) for step in steps for row in recorded[step.key]]
    write_csv(rows, output)
    summary.count(rows)
    summary.seconds = time.perf_counter() - started
    return summary
