"""The worker pool of ``--jobs``: the CPU stages of files, or of parts of long PDFs
(docproc.run.parts), in spawned processes, handed back in input and page order.

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

from docproc.config import RunOptions
from docproc.ingest.inputs import InputFile
from docproc.run.failures import FileFailure, worker_died
from docproc.run.native_memory import malloc_environment
from docproc.run.parts import Part, PreparedPart, first_part, later_parts, prepare_part
from docproc.run.prepare import PreparedPage
from docproc.run.stop_signals import ignore_interrupts_in_worker


def watch_parent(parent: int) -> None:
    """Wait while process ``parent`` is this one's parent, then leave at once."""
    # A run killed with -9 cannot stop its workers, and they would wait for work forever
    # (each holds the task queue open itself): they leave once they are orphaned.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _start_worker(parent: int) -> None:
    """Set up a worker process: it leaves when its run (``parent``) dies, leaves Ctrl-C to
    its run (see ignore_interrupts_in_worker); one OpenCV
    thread, since the workers already share out the cores and OpenCV's own thread per
    core in each would only fight over the same ones."""
    import cv2

    # The run's pid comes from the run itself: a run killed while this worker was still
    # starting has already made it an orphan, and os.getppid() here would watch init.
    threading.Thread(target=watch_parent, args=(parent,), daemon=True, name="docproc-parent-watch").start()
    ignore_interrupts_in_worker()
    cv2.setNumThreads(1)


def start_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` spawned worker processes, each set up by ``_start_worker``."""
    # Spawned, not forked: this process may already run TensorFlow's threads. Spawned
    # workers inherit the environment, where glibc finds its malloc settings at start.
    for name, value in malloc_environment().items():
        os.environ.setdefault(name, value)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(),))


@dataclass
class _Queued:
    """A part waiting for its turn in the output, and its worker's future once sent."""

    part: Part
    future: Future[PreparedPart] | None = None


@dataclass(frozen=True)
class PartRead:
    """A part as the feed hands it on: its file, the pages prepared, what ended the file
    early (None: nothing did), and whether the file is done."""

    file: InputFile
    pages: list[PreparedPage]
    failure: FileFailure | None
    file_done: bool


def _read_alone(part: Part, options: RunOptions) -> PreparedPart:
    """A part that broke the pool, read again in a pool of its own: it either reads, or is
    the part that kills its worker."""
    with start_pool(1) as pool:
        try:
            return pool.submit(prepare_part, part.file, options, part.first, part.last).result()
        except BrokenProcessPool:
            return PreparedPart([], worker_died(part.first))


class WorkerFeed:
    """Files prepared by a pool of ``jobs`` workers, whole or, for long PDFs, in parts
    (docproc.run.parts). Iterating yields each part read, in input and page order. At
    most two parts per worker are in flight, so memory stays bounded. ``start`` sends out
    the first parts early, so the workers start while this process is still loading the
    models."""

    def __init__(self, files: list[InputFile], jobs: int, options: RunOptions, pool: ProcessPoolExecutor) -> None:
        self.upcoming = iter(files)
        self.jobs, self.options, self.pool = jobs, options, pool
        self.queue: deque[_Queued] = deque()  # in output order; the submitted ones first

    def _submit(self, queued: _Queued) -> bool:
        """Send a part to the pool; False, and the part left unsent, if the pool is broken."""
        part = queued.part
        try:
            queued.future = self.pool.submit(prepare_part, part.file, self.options, part.first, part.last)
        except BrokenProcessPool:
            # A part in flight has killed its worker while this process was classifying.
            # The part is sent again once __iter__ has found that one and started afresh.
            return False
        return True

    def start(self) -> None:
        """Keep 2 x jobs parts in flight, the earliest first."""
        submitted = sum(queued.future is not None for queued in self.queue)
        for queued in self.queue:
            if submitted >= 2 * self.jobs:
                return
            if queued.future is None:
                if not self._submit(queued):
                    return
                submitted += 1
        while submitted < 2 * self.jobs and (item := next(self.upcoming, None)) is not None:
            queued = _Queued(first_part(item, self.options))
            self.queue.append(queued)
            if not self._submit(queued):
                return
            submitted += 1

    def _prepared(self, queued: _Queued) -> PreparedPart:
        """The part's prepared pages, from its worker; or, if the pool has broken, read
        alone to learn whether it was the part that broke it, after which the rest start
        afresh in a new pool."""
        if queued.future is None:  # start() sends from the left; this is for certainty
            self._submit(queued)
        if queued.future is not None:
            try:
                return queued.future.result()
            except BrokenProcessPool:
                pass
        # Also reached with the part unsent: the part that broke the pool may be one no
        # longer waited on (a later part of a file a failure had ended).
        result = _read_alone(queued.part, self.options)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = start_pool(self.jobs)
        for waiting in self.queue:
            waiting.future = None
        return result

    def __iter__(self) -> Iterator[PartRead]:
        queue = self.queue
        try:
            self.start()
            while queue:
                queued = queue.popleft()
                part = queued.part
                result = self._prepared(queued)
                final = part.final or result.failure is not None
                if result.failure is not None:
                    # A failure ends a file, as it does read in one piece: its later parts go.
                    while queue and queue[0].part.file is part.file:
                        dropped = queue.popleft()
                        if dropped.future is not None:
                            dropped.future.cancel()
                elif not part.final and part.last is not None and part.first == 1:
                    rest = later_parts(part, result.page_count or part.last)
                    queue.extendleft(reversed([_Queued(later) for later in rest]))
                    final = not rest
                self.start()
                yield PartRead(part.file, result.pages, result.failure, final)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
