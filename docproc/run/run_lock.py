"""One run at a time per output and per ledger: a second run on either exits at once.

Each lock is an flock on a file beside what it guards (``results.csv.lock``). The kernel
drops it when its process ends in any way, kill -9 included, so a lock left by a dead
run never blocks the next one; the file itself may stay and means nothing alone.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from docproc.errors import BusyError, OutputError


def lock_path(output: Path) -> Path:
    """The lock file that guards ``output``."""
    return output.with_name(output.name + ".lock")


@contextmanager
def exclusive_run(*guarded: Path) -> Iterator[None]:
    """Hold the locks of every path in ``guarded`` (the output, the ledger) for the
    block; BusyError at once if another run holds any of them."""
    with ExitStack() as stack:
        for path in guarded:
            stack.enter_context(_locked(path))
        yield


@contextmanager
def _locked(output: Path) -> Iterator[None]:
    path = lock_path(output)
    try:
        handle = open(path, "a+")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise OutputError(f"cannot create lock file {path}: {exc.strerror or exc}; choose another -o path") from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BusyError(
                f"another docproc run ({holder}) is writing {output}; wait for it to finish, or use another -o path"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing drops the flock
