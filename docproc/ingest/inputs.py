"""Which files a run reads: files, folders (recursive) and globs, in input order.

Each file gets the name the results CSV uses for it: its path relative to the input root
(the folder given, a glob's fixed prefix, or a file's own folder), with ``/`` separators.
The kind of a file is sniffed from its first bytes, never from its extension.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from docproc.errors import MissingInputError

log = logging.getLogger("docproc")

# Extensions only decide which files in a folder are meant as documents: a broken
# scan.pdf there gets an error row, while notes.txt is skipped. Reading uses the bytes.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff"}
DOCUMENT_SUFFIXES = IMAGE_SUFFIXES | {".pdf"}


@dataclass(frozen=True)
class InputFile:
    """One file to read: where it is, and the name it has in the results."""

    path: Path
    name: str


def sniff_kind(head: bytes) -> str | None:
    """The document kind from a file's first bytes (at least 1 KiB of them), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    # The PDF header may follow some junk, within the first 1024 bytes (PDF 32000-1, 7.5.2).
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def read_kind(path: Path) -> str | None:
    """Sniff a file's kind; OSError propagates for the caller to turn into an error row."""
    with path.open("rb") as handle:
        return sniff_kind(handle.read(1024))


def _has_glob_magic(text: str) -> bool:
    return glob.has_magic(text)  # type: ignore[attr-defined]


def _walk(root: Path) -> list[Path]:
    # os.walk without following links cannot loop; linked files are still read.
    found = []
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() in DOCUMENT_SUFFIXES or _sniffs_as_document(path):
                found.append(path)
            else:
                log.info("skipping %s: not a PDF or image", path)
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _sniffs_as_document(path: Path) -> bool:
    try:
        return read_kind(path) is not None
    except OSError:
        return False


def _name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def discover(inputs: list[str], root: Path | None = None) -> list[InputFile]:
    """Expand command-line inputs into files, in the order given.

    A folder contributes its document files recursively in sorted order; a glob
    (``scans/**/*.tif``) its matches; a file itself, whatever it holds (an unreadable or
    unsupported file gets an error row later, not silence; so does a dangling link). A
    path that does not exist is refused before anything is read (MissingInputError,
    naming every such path); a folder or glob with no documents is only a warning, and
    nothing found at all is an empty list. With ``root``, every name is relative to it
    instead (stable names whatever path the inputs were given by).
    """
    files: list[InputFile] = []
    seen: set[Path] = set()
    missing: list[str] = []

    def add(path: Path, input_root: Path) -> None:
        key = path.absolute()
        if key not in seen:
            seen.add(key)
            files.append(InputFile(path=path, name=_name(key, (root or input_root).absolute())))

    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = _walk(path)
            if not found:
                log.warning("%s holds no PDF or image files", text)
            for document in found:
                add(document, path)
        elif _has_glob_magic(text) and not path.exists():
            prefix = _glob_root(text)
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            for match in matches:
                if match.is_dir():
                    for document in _walk(match):
                        add(document, prefix)
                else:
                    add(match, prefix)
            if not matches:
                log.warning("%s matched no files", text)
        elif not path.exists() and not path.is_symlink():
            missing.append(text)
        else:
            add(path, path.parent)
    if missing:
        raise MissingInputError(
            f"{', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist; nothing was read. Check the "
            "path (a mounted share that is down, a typo), or quote a glob so that docproc expands it.")
    return files


def _glob_root(pattern: str) -> Path:
    """The fixed leading folders of a glob pattern: ``scans/2026/*.pdf`` -> ``scans/2026``."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if _has_glob_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")
