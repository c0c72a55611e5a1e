"""One run at a time per output: a second run on the same results file exits at once.

The lock is an flock on a file beside the output (``results.csv.lock``). The kernel
drops it when its process ends in any way, kill -9 included, so a lock left by a dead
run never blocks the next one; the file itself may stay and means nothing alone.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docproc.errors import BusyError, OutputError


def lock_path(output: Path) -> Path:
    """The lock file that guards ``output``."""
    return output.with_name(output.name + ".lock")


@contextmanager
def exclusive_run(output: Path) -> Iterator[None]:
    """Hold the output's lock for the block; BusyError at once if another run holds it."""
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
