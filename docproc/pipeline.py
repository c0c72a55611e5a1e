"""The run: files -> prepared pages (prepare.py) -> classify in batches -> decode -> rows.

The CPU stages of each file run here one page at a time, or with ``jobs`` > 1 in a pool
of worker processes, each preparing whole files while this process classifies their
crops in batches gathered across fields, pages and files. Either way files come out
complete and in input order, with the same rows: the rows do not depend on the batch
size or the number of workers. A file or page that cannot be read becomes an ``error``
row and the run goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np

from docproc.classify import DigitClassifier
from docproc.decode import Reading, decode_field
from docproc.errors import InputFileError
from docproc.inputs import InputFile, read_kind
from docproc.pages import pdf_page_count
from docproc.prepare import (PreparedField, PreparedPage, PreparedPart, RunOptions, page_fields, prepare_file,
                             prepare_part, timeout_row)
from docproc.results import FieldResult
from docproc.time_limit import FileTimer, TimeLimitExceeded

__all__ = ["FileRows", "RunOptions", "RunSummary", "default_jobs", "page_fields", "run", "run_all", "run_files"]

log = logging.getLogger("docproc")

# Long PDFs go to the workers in parts of this many pages: enough to keep each worker's
# poppler calls and the part's round trip cheap, few enough that one long PDF keeps every
# worker busy and a part's prepared pages stay small (about 100 kB a page).
PAGES_PER_PART = 16


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


def _readings(field_: PreparedField, probabilities: np.ndarray, singles: np.ndarray | None) -> list[Reading]:
    """Each glyph's reading options from the field's rows of ``probabilities`` and
    ``singles`` (laid out as the field's crops are)."""
    readings, at = [], 0
    for split_sizes in field_.splits:
        spans = [(at, at + 1)]
        at += 1
        for size in split_sizes:
            spans.append((at, at + size))
            at += size
        options = tuple(tuple(probabilities[a:b]) for a, b in spans)
        checks = None if singles is None else tuple(tuple(float(v) for v in singles[a:b]) for a, b in spans)
        readings.append(Reading(options, checks))
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

    @property
    def full(self) -> bool:
        return self.crop_count >= self.classifier.batch_size

    def add_page(self, item: InputFile, page: PreparedPage) -> None:
        self.pending.append(_PageWork(item, page, self.crop_count))
        for prepared in page.fields:
            self.crops.append(prepared.crops)
            self.crop_count += len(prepared.crops)

    def add_row(self, row: FieldResult) -> None:
        self.pending.append(row)

    def end_file(self, item: InputFile, pages: int) -> None:
        self.pending.append(_FileEnd(item, pages))

    def flush(self) -> Iterator[FileRows]:
        batch = np.concatenate(self.crops) if self.crops else np.empty((0, 28, 28), np.float32)
        probabilities = self.classifier.predict(batch)
        check = self.classifier.check
        singles = check.predict(batch) if check is not None else None
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
        next_page, pages = 1, 0
        try:
            with timer:
                for entry in prepare_file(item, options):
                    if isinstance(entry, FieldResult):
                        batcher.add_row(entry)
                        continue
                    batcher.add_page(item, entry)
                    next_page, pages = entry.number + 1, pages + 1
                    if on_page is not None:
                        on_page(item, entry.number)
                    if batcher.full:
                        # The batch holds other files' crops too: its time is not this file's.
                        with timer.paused():
                            yield from batcher.flush()
        except TimeLimitExceeded:
            batcher.add_row(timeout_row(item, next_page, options))
        batcher.end_file(item, pages)
    yield from batcher.flush()


def _worker_died_row(item: InputFile, page: int, options: RunOptions) -> FieldResult:
    return FieldResult(item.name, page, options.template_name, "", status="error",
                       error="the worker process reading this file died (out of memory, or a crash in a decoder); "
                             "check the file, or run it alone with --jobs 1")


def _watch_parent(parent: int) -> None:
    # A run killed with -9 cannot stop its workers, and they would wait for work forever
    # (each holds the task queue open itself): they leave once they are orphaned.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _start_worker(parent: int) -> None:
    """Set up a worker process: it leaves when its run (``parent``) dies; one OpenCV
    thread, since the workers already share out the cores and OpenCV's own thread per
    core in each would only fight over the same ones."""
    import cv2

    # The run's pid comes from the run itself: a run killed while this worker was still
    # starting has already made it an orphan, and os.getppid() here would watch init.
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="docproc-parent-watch").start()
    cv2.setNumThreads(1)


def _pool(jobs: int) -> ProcessPoolExecutor:
    # Spawned, not forked: this process may already run TensorFlow's threads.
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(),))


@dataclass
class _Part:
    """A run of a file's pages for a worker: ``first`` to ``last`` (None: to the end)."""

    file: InputFile
    first: int = 1
    last: int | None = None
    final: bool = True  # the file's last part
    future: Future[PreparedPart] | None = None


def _first_part(item: InputFile, options: RunOptions) -> _Part:
    # Long PDFs are read in parts, so every worker can help with one: their pages render
    # independently. Not under a file time limit, which is the whole file's.
    if options.file_timeout is None and item.path.is_file():
        try:
            kind = read_kind(item.path)
        except OSError:
            kind = None
        if kind == "pdf":
            # A short first part: the page count it brings back sends out the others.
            return _Part(item, 1, max(1, PAGES_PER_PART // 4), final=False)
    return _Part(item)


def _long_pdf(item: InputFile, options: RunOptions) -> bool:
    """Whether a lone file is a PDF long enough to share among workers."""
    if _first_part(item, options).final:
        return False
    try:
        return pdf_page_count(item.path, options.pdf_dpi, options.max_pixels) > max(1, PAGES_PER_PART // 4)
    except (InputFileError, OSError):
        return False  # read in this process, where the same failure becomes its error row


def _read_alone(part: _Part, options: RunOptions) -> PreparedPart:
    """A part that broke the pool, read again in a pool of its own: it either reads, or is
    the part that kills its worker."""
    with _pool(1) as pool:
        try:
            return pool.submit(prepare_part, part.file, options, part.first, part.last).result()
        except BrokenProcessPool:
            return PreparedPart([_worker_died_row(part.file, part.first, options)])


class _WorkerFeed:
    """Files prepared by a pool of ``jobs`` workers, whole or, for long PDFs, in parts of
    PAGES_PER_PART pages. Iterating yields (file, prepared pages and error rows, whether
    the file is done) in input and page order. At most two parts per worker are in
    flight, so memory stays bounded. ``start`` sends out the first parts early, so the
    workers start while this process is still loading the models."""

    def __init__(self, files: list[InputFile], jobs: int, options: RunOptions, pool: ProcessPoolExecutor) -> None:
        self.upcoming = iter(files)
        self.jobs, self.options, self.pool = jobs, options, pool
        self.queue: deque[_Part] = deque()  # in output order; the submitted ones first

    def _submit(self, part: _Part) -> None:
        part.future = self.pool.submit(prepare_part, part.file, self.options, part.first, part.last)

    def start(self) -> None:
        """Keep 2 x jobs parts in flight, the earliest first."""
        submitted = sum(part.future is not None for part in self.queue)
        for part in self.queue:
            if submitted >= 2 * self.jobs:
                return
            if part.future is None:
                self._submit(part)
                submitted += 1
        while submitted < 2 * self.jobs and (item := next(self.upcoming, None)) is not None:
            part = _first_part(item, self.options)
            self._submit(part)
            self.queue.append(part)
            submitted += 1

    def __iter__(self) -> Iterator[tuple[InputFile, list[PreparedPage | FieldResult], bool]]:
        queue = self.queue
        try:
            self.start()
            while queue:
                part = queue.popleft()
                if part.future is None:  # start() submits from the left; this is for certainty
                    self._submit(part)
                assert part.future is not None
                try:
                    result = part.future.result()
                except BrokenProcessPool:
                    # Some part in flight killed its worker, and the pool with it: read this
                    # one alone to learn whether it was the one, then start afresh for the rest.
                    result = _read_alone(part, self.options)
                    self.pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = _pool(self.jobs)
                    for waiting in queue:
                        waiting.future = None
                ended = any(isinstance(entry, FieldResult) for entry in result.entries)
                final = part.final or ended
                if ended:
                    # An error ends a file, as it does read in one piece: its later parts go.
                    while queue and queue[0].file is part.file:
                        dropped = queue.popleft()
                        if dropped.future is not None:
                            dropped.future.cancel()
                elif not part.final and part.last is not None and part.first == 1:
                    count = result.page_count or part.last
                    rest = [_Part(part.file, first, min(count, first + PAGES_PER_PART - 1),
                                  final=first + PAGES_PER_PART > count)
                            for first in range(part.last + 1, count + 1, PAGES_PER_PART)]
                    queue.extendleft(reversed(rest))
                    final = not rest
                self.start()
                yield part.file, result.entries, final
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def run_files(files: list[InputFile], classifier: DigitClassifier | Callable[[], DigitClassifier],
              options: RunOptions, on_page: Callable[[InputFile, int], None] | None = None,
              jobs: int = 1) -> Iterator[FileRows]:
    """Read every file; yield each file's rows, complete, in input order, classifying in
    batches gathered across files. With ``jobs`` > 1 the CPU stages run in that many
    worker processes. A file is yielded only once all its rows exist, so a caller can
    commit it whole. ``classifier`` may be a function that loads it: it is then called
    once the workers have their first files, so they start while it loads."""
    pool = None
    if jobs > 1 and (len(files) > 1 or (files and _long_pdf(files[0], options))):
        try:
            pool = _pool(jobs)
        except (OSError, NotImplementedError) as exc:
            # Some containers have no shared memory for the pool's semaphores: slower, not broken.
            log.warning("cannot start worker processes (%s); reading in this process only", exc)
    if pool is None:
        batcher = _Batcher(classifier if isinstance(classifier, DigitClassifier) else classifier(), options)
        yield from _prepared_here(files, batcher, options, on_page)
        return
    feed = _WorkerFeed(files, jobs, options, pool)
    feed.start()
    try:
        batcher = _Batcher(classifier if isinstance(classifier, DigitClassifier) else classifier(), options)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # a model that will not load ends the run
        raise
    pages = 0  # of the file being read; its parts come one after another
    for item, entries, file_done in feed:
        for entry in entries:
            if isinstance(entry, FieldResult):
                batcher.add_row(entry)
            else:
                batcher.add_page(item, entry)
                pages += 1
                if on_page is not None:
                    on_page(item, entry.number)
        if file_done:
            batcher.end_file(item, pages)
            pages = 0
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
    failed: set[str] = set()

    def count_page(item: InputFile, number: int) -> None:
        summary.pages += 1
        log.info("%s page %d: read", item.name, number)
        if on_page is not None:
            on_page(item, number)

    for row in run(files, classifier, options, count_page, jobs):
        rows.append(row)
        summary.statuses[row.status] += 1
        if row.status == "error":
            log.warning("%s page %d: %s", row.file, row.page, row.error)
            failed.add(row.file)
        else:
            summary.fields += 1
    summary.failed_files = len(failed)
    summary.seconds = time.perf_counter() - started
    return rows, summary
