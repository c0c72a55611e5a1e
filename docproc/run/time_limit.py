"""A wall-clock limit on the work for one file, so a file that hangs (a named pipe, a
stuck decoder) costs the run its limit and an error row, not the whole night.

It uses SIGALRM, so it only acts in the main thread of a process (each worker process
of a pool has its own); elsewhere it does nothing. A signal handler runs only between
Python instructions, so code stuck inside C is out of its reach: the worker pool kills
such a worker a little after the limit (docproc.run.workers.hard_limit).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType


class TimeLimitExceeded(Exception):
    """The file's time ran out (caught by the pipeline and turned into an error row)."""


class FileTimer:
    """``with FileTimer(seconds):`` raises TimeLimitExceeded in the block once ``seconds``
    of wall-clock time have passed; ``paused()`` stops the clock for work that is not the
    file's own (classifying a batch shared with other files). None or 0: no limit."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.active = bool(seconds) and threading.current_thread() is threading.main_thread()
        self._previous: object = None

    def _expired(self, signum: int, frame: FrameType | None) -> None:
        raise TimeLimitExceeded()

    def __enter__(self) -> FileTimer:
        if self.active:
            self._previous = signal.signal(signal.SIGALRM, self._expired)
            signal.setitimer(signal.ITIMER_REAL, float(self.seconds or 0))
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)  # type: ignore[arg-type]

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the clock inside the block, and give the file the time it had left after it."""
        if not self.active:
            yield
            return
        remaining, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3))
