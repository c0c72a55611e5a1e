"""glibc's malloc set for docproc's way of using memory.

Every page allocates and frees arrays of a few megabytes (the page, its ink and masks,
the rotated copy). With glibc's defaults these are mapped from the system and handed
back (mmap, munmap, heap trimming) over and over, and every fresh mapping is paid again
in page faults: measured on PNG cheques, a quarter of the CPU time of reading went to
the kernel, and reading ran 25-30% slower than with the memory kept. Keeping freed
memory (up to 64 MiB unused per process) costs little against the model's ~1 GiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# glibc's mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Arrays up to this size come from the heap, not from a fresh mapping each time.
MMAP_THRESHOLD = 32 * 2**20
# Freed heap memory is handed back only when this much lies unused at its top.
TRIM_THRESHOLD = 64 * 2**20

_done = False


def malloc_environment() -> dict[str, str]:
    """The same settings as environment variables, for processes docproc starts: glibc
    reads them before the first allocation, which serves better than ``mallopt`` later
    (about 7% faster reading in worker processes here)."""
    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


def keep_freed_memory() -> None:
    """Set this process's malloc to keep freed memory for reuse (see the module's
    docstring). Once per process; does nothing off glibc. Best called early, before
    TensorFlow loads: called after it, reading gained only half as much here."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError, TypeError) as exc:  # not glibc (musl has no mallopt)
        log.debug("malloc left as it is: %s", exc)
        return
    if not ok:
        log.debug("malloc left as it is: mallopt refused the settings")
