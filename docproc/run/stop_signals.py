"""SIGTERM handled like Ctrl-C: the run unwinds, so every file committed stays committed,
the worker pool is shut down and its semaphores released, and the command exits 143 with
one line (cron, systemd and container runtimes stop jobs with SIGTERM)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# The shell's codes (128 + the signal), which `docproc run` exits with when stopped by one.
INTERRUPTED_EXIT = 130
TERMINATED_EXIT = 143


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt, so no handler that turns a
    file's failure into its error row can mistake it for one."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside the block, SIGTERM raises Terminated in the main thread (elsewhere a signal
    handler cannot be set, and the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
