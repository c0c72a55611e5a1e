"""The run: files -> prepared pages (prepare.py) -> classify in batches -> decode -> rows.

The CPU stages of each file run here one page at a time, or with ``jobs`` > 1 in a pool
of worker processes (workers.py) while this process classifies their crops in batches
gathered across fields, pages and files. Either way files come out
complete and in input order, with the same rows: the rows do not depend on the batch
size or the number of workers. A file or page that cannot be read becomes an ``error``
row and the run goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from docproc.classify import CropReadings, DigitClassifier
from docproc.decode import Reading, decode_field
from docproc.inputs import InputFile
from docproc.native_memory import keep_freed_memory
from docproc.prepare import PreparedField, PreparedPage, RunOptions, page_fields, prepare_file, timeout_row
from docproc.results import FieldResult
from docproc.time_limit import FileTimer, TimeLimitExceeded
from docproc.workers import WorkerFeed, long_pdf, start_pool

__all__ = ["FileRows", "RunOptions", "RunSummary", "default_jobs", "page_fields", "run", "run_all", "run_files"]

log = logging.getLogger("docproc")


def default_jobs() -> int:
    """The cores this process may use (its CPU affinity, which containers and taskset set)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class RunSummary:
    """Counts for the closing line and the exit status."""

    files: int = 0
    files_read: int | None = None  # with a ledger: how many were read; the rest were unchanged
    failed_files: int = 0
    pages: int = 0
    fields: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: {"ok": 0, "review": 0, "error": 0})
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


# A glyph whose whole crop the models read as one sure digit (top probability at least
# SURE_DIGIT, single-digit check at least SURE_SINGLE) is not read cut in pieces: its cut
# alternatives could only win against that reading as a wrong split or, in a field of
# fixed length, to make up a digit another glyph lost. On the two dev sets (6,000
# generated fields) leaving them unread changed no field from right to wrong or back,
# and left 56% of the crops unread.
SURE_DIGIT = 0.99
SURE_SINGLE = 0.95


def _piece_owners(fields: Iterable[PreparedField]) -> np.ndarray:
    """For each crop of ``fields`` (laid out one field after another, as their crops are):
    the index of its glyph's whole crop if it is a piece of a cut in two or more, else -1."""
    owners: list[int] = []
    for field_ in fields:
        for split_sizes, joined in zip(field_.splits, field_.joins):
            whole = len(owners)
            owners.append(-1)
            for size in split_sizes:
                owners.extend([whole] * size if size > 1 else [-1])
            if joined:
                owners.append(-1)
    return np.asarray(owners, np.int64)


def _read_needed(classifier: DigitClassifier, crops: np.ndarray, owners: np.ndarray) -> CropReadings:
    """The crops' readings, reading the pieces of a cut only where the glyph's whole
    reading is not sure (see SURE_DIGIT); unread rows are NaN."""
    count = len(crops)
    probabilities = np.full((count, 10), np.nan, np.float32)
    singles = np.full(count, np.nan, np.float32)
    first, owned = np.flatnonzero(owners < 0), np.flatnonzero(owners >= 0)
    read = classifier.read(crops[first])
    probabilities[first] = read.probabilities
    if read.singles is None:
        # Without the check there is no telling a sure digit: every cut is read.
        probabilities[owned] = classifier.read(crops[owned]).probabilities
        return CropReadings(probabilities, None)
    singles[first] = read.singles
    whole = owners[owned]
    unsure = (probabilities[whole].max(axis=1) < SURE_DIGIT) | (singles[whole] < SURE_SINGLE)
    rest = owned[unsure]
    if rest.size:
        more = classifier.read(crops[rest])
        probabilities[rest] = more.probabilities
        singles[rest] = more.singles
    return CropReadings(probabilities, singles)


def _readings(field_: PreparedField, probabilities: np.ndarray, singles: np.ndarray | None) -> list[Reading]:
    """Each glyph's reading options from the field's rows of ``probabilities`` and
    ``singles`` (laid out as the field's crops are). A cut whose pieces were left unread
    (NaN rows, see ``_read_needed``) is no option."""
    readings, at = [], 0
    for split_sizes, joined in zip(field_.splits, field_.joins):
        spans = [(at, at + 1)]
        at += 1
        for size in split_sizes:
            if not np.isnan(probabilities[at, 0]):
                spans.append((at, at + size))
            at += size
        options = tuple(tuple(probabilities[a:b]) for a, b in spans)
        checks = None if singles is None else tuple(tuple(float(v) for v in singles[a:b]) for a, b in spans)
        join = None
        if joined:
            join = (probabilities[at], None if singles is None else float(singles[at]))
            at += 1
        readings.append(Reading(options, checks, join))
    return readings


@dataclass(frozen=True)
class FileRows:
    """Everything one file gave: its rows in page order, and how many pages were read."""

    file: InputFile
    rows: list[FieldResult]
    pages: int


@dataclass(frozen=True)
class _PageWork:
    file: InputFile
    page: PreparedPage
    first_crop: int


@dataclass(frozen=True)
class _FileEnd:
    # Marks, in the pending list, where a file's last page or error row was queued.
    file: InputFile
    pages: int


class _Batcher:
    """Gathers prepared pages until a batch of crops is full, then classifies and decodes
    them; hands each file's rows out once the file's end has been decoded."""

    def __init__(self, classifier: DigitClassifier, options: RunOptions) -> None:
        self.classifier, self.options = classifier, options
        self.pending: list[_PageWork | FieldResult | _FileEnd] = []
        self.crops: list[np.ndarray] = []
        self.crop_count = 0
        self.open_rows: list[FieldResult] = []  # the file whose end is not flushed yet; it spans flushes
        self.open_pages = 0  # pages added since the last file's end

    @property
    def full(self) -> bool:
        return self.crop_count >= self.classifier.batch_size

    def add_page(self, item: InputFile, page: PreparedPage) -> None:
        self.pending.append(_PageWork(item, page, self.crop_count))
        self.open_pages += 1
        for prepared in page.fields:
            self.crops.append(prepared.crops)
            self.crop_count += len(prepared.crops)

    def add_row(self, row: FieldResult) -> None:
        self.pending.append(row)

    def end_file(self, item: InputFile) -> None:
        self.pending.append(_FileEnd(item, self.open_pages))
        self.open_pages = 0

    def flush(self) -> Iterator[FileRows]:
        batch = np.concatenate(self.crops) if self.crops else np.empty((0, 28, 28), np.float32)
        fields = [prepared for entry in self.pending if isinstance(entry, _PageWork) for prepared in entry.page.fields]
        readings = _read_needed(self.classifier, batch, _piece_owners(fields))
        probabilities, singles = readings.probabilities, readings.singles
        for entry in self.pending:
            if isinstance(entry, FieldResult):
                self.open_rows.append(entry)
            elif isinstance(entry, _FileEnd):
                yield FileRows(entry.file, list(self.open_rows), entry.pages)
                self.open_rows.clear()
            else:
                self.open_rows.extend(self._page_rows(entry, probabilities, singles))
        self.pending.clear()
        self.crops.clear()
        self.crop_count = 0

    def _page_rows(self, work: _PageWork, probabilities: np.ndarray, singles: np.ndarray | None,
                   ) -> list[FieldResult]:
        rows, at = [], work.first_crop
        options = self.options
        for prepared in work.page.fields:
            end = at + len(prepared.crops)
            readings = _readings(prepared, probabilities[at:end], None if singles is None else singles[at:end])
            at = end
            decoded = decode_field(readings, prepared.spec, options.review_below)
            rows.append(FieldResult(work.file.name, work.page.number, options.template_name, prepared.name,
                                    decoded.text, decoded.confidence, decoded.digit_confidences, decoded.status, "",
                                    prepared.box))
        return rows


def _prepared_here(files: list[InputFile], batcher: _Batcher, options: RunOptions,
                   on_page: Callable[[InputFile, int], None] | None) -> Iterator[FileRows]:
    for item in files:
        timer = FileTimer(options.file_timeout)
        next_page = 1
        try:
            with timer:
                for entry in prepare_file(item, options):
                    if isinstance(entry, FieldResult):
                        batcher.add_row(entry)
                        continue
                    batcher.add_page(item, entry)
                    next_page = entry.number + 1
                    if on_page is not None:
                        on_page(item, entry.number)
                    if batcher.full:
                        # The batch holds other files' crops too: its time is not this file's.
                        with timer.paused():
                            yield from batcher.flush()
        except TimeLimitExceeded:
            batcher.add_row(timeout_row(item, next_page, options))
        batcher.end_file(item)
    yield from batcher.flush()


def _loaded(classifier: DigitClassifier | Callable[[], DigitClassifier]) -> DigitClassifier:
    return classifier if isinstance(classifier, DigitClassifier) else classifier()


def run_files(files: list[InputFile], classifier: DigitClassifier | Callable[[], DigitClassifier],
              options: RunOptions, on_page: Callable[[InputFile, int], None] | None = None,
              jobs: int = 1) -> Iterator[FileRows]:
    """Read every file; yield each file's rows, complete, in input order, classifying in
    batches gathered across files. With ``jobs`` > 1 the CPU stages run in that many
    worker processes. A file is yielded only once all its rows exist, so a caller can
    commit it whole. ``classifier`` may be a function that loads it: it is then called
    once the workers have their first files, so they start while it loads."""
    keep_freed_memory()
    pool = None
    if jobs > 1 and (len(files) > 1 or (files and long_pdf(files[0], options))):
        try:
            pool = start_pool(jobs)
        except (OSError, NotImplementedError) as exc:
            # Some containers have no shared memory for the pool's semaphores: slower, not broken.
            log.warning("cannot start worker processes (%s); reading in this process only", exc)
    if pool is None:
        batcher = _Batcher(_loaded(classifier), options)
        yield from _prepared_here(files, batcher, options, on_page)
        return
    feed = WorkerFeed(files, jobs, options, pool)
    feed.start()
    try:
        batcher = _Batcher(_loaded(classifier), options)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # a model that will not load ends the run
        raise
    for item, entries, file_done in feed:
        for entry in entries:
            if isinstance(entry, FieldResult):
                batcher.add_row(entry)
            else:
                batcher.add_page(item, entry)
                if on_page is not None:
                    on_page(item, entry.number)
        if file_done:
            batcher.end_file(item)
        if batcher.full:
            yield from batcher.flush()
    yield from batcher.flush()


def run(files: list[InputFile], classifier: DigitClassifier, options: RunOptions,
        on_page: Callable[[InputFile, int], None] | None = None, jobs: int = 1) -> Iterator[FieldResult]:
    """Read every file; yield result rows in input order, classifying in batches."""
    for done in run_files(files, classifier, options, on_page, jobs):
        yield from done.rows


def run_all(files: list[InputFile], classifier: DigitClassifier, options: RunOptions,
            on_page: Callable[[InputFile, int], None] | None = None, jobs: int = 1,
            ) -> tuple[list[FieldResult], RunSummary]:
    """Run and collect every row with a summary of the counts."""
    started = time.perf_counter()
    summary = RunSummary(files=len(files))
    rows: list[FieldResult] = []

    def count_page(item: InputFile, number: int) -> None:
        summary.pages += 1
        log.info("%s page %d: read", item.name, number)
        if on_page is not None:
            on_page(item, number)

    for row in run(files, classifier, options, count_page, jobs):
        rows.append(row)
        if row.status == "error":
            log.warning("%s page %d: %s", row.file, row.page, row.error)
    summary.count(rows)
    summary.seconds = time.perf_counter() - started
    return rows, summary
