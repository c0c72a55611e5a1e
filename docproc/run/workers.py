"""The worker pool of ``--jobs``: the CPU stages of files, or of parts of long PDFs
(docproc.run.parts), in spawned processes, handed back in input and page order.

The pool is pebble's: a worker that dies or overruns its part is replaced, and only that
part fails. Workers leave when their run dies (even by kill -9). A part that kills its
worker is read once more, and becomes an error row if it kills that one too. With
``--file-timeout`` a part still running well past the limit (``hard_limit``) is stopped
by killing its worker, so a decoder stuck inside native code, where the file's own timer in
the worker cannot reach it, costs an error row and no more.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import TimeoutError as PartTimedOut
from dataclasses import dataclass

from pebble import ProcessExpired, ProcessFuture, ProcessPool

from docproc.config import RunOptions
from docproc.ingest.inputs import InputFile
from docproc.run.failures import FileFailure, killed_after, worker_died
from docproc.run.native_memory import malloc_environment
from docproc.run.parts import Part, PreparedPart, first_part, later_parts, prepare_part
from docproc.run.prepare import PreparedPage

# A part is killed with its worker once it has run --file-timeout and then half as long
# again (at least HARD_LIMIT_GRACE seconds more). The file's own timer in the worker
# (docproc.run.time_limit) stops Python code at the limit itself, with the pages read so
# far; only what it cannot interrupt (native code) runs on until here, so a hang is
# stopped within twice the limit for limits of 4 s and more.
HARD_LIMIT_EXTRA = 0.5
HARD_LIMIT_GRACE = 2.0


def watch_parent(parent: int) -> None:
    """Wait while process ``parent`` is this one's parent, then leave at once."""
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
    threading.Thread(target=watch_parent, args=(parent,), daemon=True, name="docproc-parent-watch").start()
    cv2.setNumThreads(1)


def start_pool(jobs: int) -> ProcessPool:
    """A pool of ``jobs`` spawned worker processes, each set up by ``_start_worker``."""
    # Spawned, not forked: this process may already run TensorFlow's threads. Spawned
    # workers inherit the environment, where glibc finds its malloc settings at start.
    # pebble's workers leave SIGINT to their run (a terminal's Ctrl-C reaches the whole
    # process group; the run stops them in order) and exit quietly on SIGTERM.
    for name, value in malloc_environment().items():
        os.environ.setdefault(name, value)
    return ProcessPool(max_workers=jobs, initializer=_start_worker, initargs=(os.getpid(),),
                       context=multiprocessing.get_context("spawn"))


def hard_limit(options: RunOptions) -> float | None:
    """Seconds after which a part still running is killed with its worker (None: never)."""
    limit = options.file_timeout
    return None if limit is None else limit + max(HARD_LIMIT_EXTRA * limit, HARD_LIMIT_GRACE)


@dataclass
class _Queued:
    """A part waiting for its turn in the output, and its worker's future once sent."""

    part: Part
    future: ProcessFuture | None = None
    tries: int = 0


@dataclass(frozen=True)
class PartRead:
    """A part as the feed hands it on: its file, the pages prepared, what ended the file
    early (None: nothing did), and whether the file is done."""

    file: InputFile
    pages: list[PreparedPage]
    failure: FileFailure | None
    file_done: bool


class WorkerFeed:
    """Files prepared by a pool of ``jobs`` workers, whole or, for long PDFs, in parts
    (docproc.run.parts). Iterating yields each part read, in input and page order. At
    most two parts per worker are in flight, so memory stays bounded. ``start`` sends out
    the first parts early, so the workers start while this process is still loading the
    models."""

    def __init__(self, files: list[InputFile], jobs: int, options: RunOptions, pool: ProcessPool) -> None:
        self.upcoming = iter(files)
        self.jobs, self.options, self.pool = jobs, options, pool
        self.queue: deque[_Queued] = deque()  # in output order; the submitted ones first

    def _submit(self, queued: _Queued) -> None:
        part = queued.part
        queued.tries += 1
        queued.future = self.pool.schedule(prepare_part, (part.file, self.options, part.first, part.last),
                                           timeout=hard_limit(self.options))

    def start(self) -> None:
        """Keep 2 x jobs parts in flight, the earliest first: the parts queued but not yet
        sent (later parts of a long PDF, a part sent again), then new files."""
        submitted = sum(queued.future is not None for queued in self.queue)
        for queued in self.queue:
            if submitted >= 2 * self.jobs:
                return
            if queued.future is None:
                self._submit(queued)
                submitted += 1
        while submitted < 2 * self.jobs and (item := next(self.upcoming, None)) is not None:
            queued = _Queued(first_part(item, self.options))
            self.queue.append(queued)
            self._submit(queued)
            submitted += 1

    def _prepared(self, queued: _Queued) -> PreparedPart:
        """The part's prepared pages, from its worker. A part whose worker died is sent
        once more (the death may have been another's doing: the kernel's OOM killer picks
        the largest process); one that outran the hard limit is not."""
        while True:
            if queued.future is None:
                self._submit(queued)
            assert queued.future is not None
            try:
                return queued.future.result()
            except PartTimedOut:
                return PreparedPart([], killed_after(queued.part.first, self.options.file_timeout))
            except ProcessExpired:
                if queued.tries >= 2:
                    return PreparedPart([], worker_died(queued.part.first))
                queued.future = None

    def _stop(self, finished: bool) -> None:
        """Let the pool's workers go: at once (killing what they run) unless every part is in."""
        for queued in self.queue:
            if queued.future is not None:
                queued.future.cancel()
        if finished:
            self.pool.close()
        else:
            self.pool.stop()
        self.pool.join()

    def __iter__(self) -> Iterator[PartRead]:
        queue = self.queue
        finished = False
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
            finished = True
        finally:
            self._stop(finished)
