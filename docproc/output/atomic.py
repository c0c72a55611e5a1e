"""Write a file so a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from docproc.errors import DiskFullError, OutputError, is_disk_full


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _failed(message: str, exc: OSError, fix: str) -> OutputError:
    if is_disk_full(exc):
        return DiskFullError(f"{message}: the disk is full ({exc.strerror or exc}); any earlier version of the file "
                             f"is left as it was; {fix}")
    return OutputError(f"{message}: {exc.strerror or exc}; {fix}")


def write_atomically(path: Path, content: bytes, fix: str = "free some space or choose another output path") -> None:
    """Write ``content`` to a temporary file beside ``path``, fsync it, give it the
    permissions a plain new file would get, rename it over ``path`` and fsync the folder.
    OutputError (with ``fix`` as the advice; DiskFullError when the disk is full) when any
    step fails; the temporary file is removed."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    except OSError as exc:
        raise _failed(f"cannot write in {folder}", exc, fix) from exc
    try:
        with handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); the result is shared like any new file.
        os.chmod(handle.name, 0o666 & ~_umask())
        os.replace(handle.name, path)
    except OSError as exc:
        Path(handle.name).unlink(missing_ok=True)
        raise _failed(f"cannot write {path}", exc, fix) from exc
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so the rename that put a file in it survives a power cut."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise OutputError(f"cannot open {folder} to make the new file durable: {exc.strerror or exc}") from exc
    try:
        os.fsync(descriptor)
    except OSError as exc:
        # Some file systems cannot fsync a folder (EINVAL): the rename is then as durable as they make it.
        if exc.errno != errno.EINVAL:
            raise OutputError(f"cannot make the new file in {folder} durable: {exc.strerror or exc}") from exc
    finally:
        os.close(descriptor)
