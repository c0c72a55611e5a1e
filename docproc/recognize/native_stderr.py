"""Capture what native libraries write straight to file descriptor 2.

TensorFlow's C++ runtime logs start-up chatter (oneDNN notices, a failed CUDA probe on a
CPU-only machine) to fd 2 before any Python log level applies. Under cron that reads like
an error. The backend is loaded inside ``captured_native_stderr``; what it printed goes to
the ``docproc`` logger at DEBUG, and callers add it to their error message when loading
fails, so nothing is lost.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("docproc")


class CapturedText:
    """Holds the captured text once the ``with`` block has ended."""

    text: str = ""


@contextmanager
def captured_native_stderr() -> Iterator[CapturedText]:
    """Redirect fd 2 to a temporary file for the block; log the text at DEBUG afterwards."""
    captured = CapturedText()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", "replace")
            if captured.text.strip():
                log.debug("native libraries said while loading:\n%s", captured.text.rstrip())
