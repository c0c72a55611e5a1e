"""The worker pool of ``--jobs``: the CPU stages of files, or of parts of long PDFs, in
spawned processes, handed back in input and page order.

Workers leave when their run dies (even by kill -9); a part that kills its worker is
read again alone, and becomes an error row if it kills that one too.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from docproc.errors import InputFileError
from docproc.inputs import InputFile, read_kind
from docproc.native_memory import malloc_environment
from docproc.pages import pdf_page_count
from docproc.prepare import PreparedPage, PreparedPart, RunOptions, prepare_part
from docproc.results import FieldResult

# Long PDFs go to the workers in parts of this many pages: enough to keep each worker's
# poppler calls and the part's round trip cheap, few enough that one long PDF keeps every
# worker busy and a part's prepared pages stay small (about 100 kB a page).
PAGES_PER_PART = 16


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


def start_pool(jobs: int) -> ProcessPoolExecutor:
    # Spawned, not forked: this process may already run TensorFlow's threads. Spawned
    # workers inherit the environment, where glibc finds its malloc settings at start.
    for name, value in malloc_environment().items():
        os.environ.setdefault(name, value)
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


def long_pdf(item: InputFile, options: RunOptions) -> bool:
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
    with start_pool(1) as pool:
        try:
            return pool.submit(prepare_part, part.file, options, part.first, part.last).result()
        except BrokenProcessPool:
            return PreparedPart([_worker_died_row(part.file, part.first, options)])


class WorkerFeed:
    """Files prepared by a pool of ``jobs`` workers, whole or, for long PDFs, in parts of
    PAGES_PER_PART pages. Iterating yields (file, prepared pages and error rows, whether
    the file is done) in input and page order. At most two parts per worker are in
    flight, so memory stays bounded. ``start`` sends out the first parts early, so the
    workers start while this process is still loading the models."""

    def __init__(self, files: list[InputFile], jobs: int, options: RunOptions, pool: ProcessPoolExecutor) -> None:
        self.upcoming = iter(files)
        self.jobs, self.options, self.pool = jobs, options, pool
        self.queue: deque[_Part] = deque()  # in output order; the submitted ones first

    def _submit(self, part: _Part) -> bool:
        """Send ``part`` to the pool; False, and the part left unsent, if the pool is broken."""
        try:
            part.future = self.pool.submit(prepare_part, part.file, self.options, part.first, part.last)
        except BrokenProcessPool:
            # A part in flight has killed its worker while this process was classifying.
            # The part is sent again once __iter__ has found that one and started afresh.
            return False
        return True

    def start(self) -> None:
        """Keep 2 x jobs parts in flight, the earliest first."""
        submitted = sum(part.future is not None for part in self.queue)
        for part in self.queue:
            if submitted >= 2 * self.jobs:
                return
            if part.future is None:
                if not self._submit(part):
                    return
                submitted += 1
        while submitted < 2 * self.jobs and (item := next(self.upcoming, None)) is not None:
            part = _first_part(item, self.options)
            self.queue.append(part)
            if not self._submit(part):
                return
            submitted += 1

    def _prepared(self, part: _Part) -> PreparedPart:
        """The part's prepared pages and error rows, from its worker; or, if the pool has
        broken, read alone to learn whether it was the part that broke it, after which the
        rest start afresh in a new pool."""
        if part.future is None:  # start() sends from the left; this is for certainty
            self._submit(part)
        if part.future is not None:
            try:
                return part.future.result()
            except BrokenProcessPool:
                pass
        # Also reached with the part unsent: the part that broke the pool may be one no
        # longer waited on (a later part of a file an error had ended).
        result = _read_alone(part, self.options)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = start_pool(self.jobs)
        for waiting in self.queue:
            waiting.future = None
        return result

    def __iter__(self) -> Iterator[tuple[InputFile, list[PreparedPage | FieldResult], bool]]:
        queue = self.queue
        try:
            self.start()
            while queue:
                part = queue.popleft()
                result = self._prepared(part)
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
