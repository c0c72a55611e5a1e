"""The scans behind a results file, and each field's crop cut from them for the station.

Only files the results name are opened, and only when the name stays inside the scans
folder once resolved, so no request can reach another file. Pages are rasterized as the
run did (PDF pages at its ``--pdf-dpi``) and kept in a small cache, crops in a larger one:
the next fields are usually on pages already open.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np

from docproc.config import PDF_DPI
from docproc.errors import DocprocError
from docproc.ingest.inputs import read_kind
from docproc.ingest.pages import iter_pages
from docproc.review.queue import QueueItem

# The crop's margin around the field's box, as a share of the box's height (at least MIN_MARGIN px):
# enough to see writing that crosses the box's edge and what is printed beside it.
MARGIN = 0.35
MIN_MARGIN = 12
# The crop is enlarged to at least this height, and shrunk to at most this width.
SHOWN_HEIGHT = 180
MAX_WIDTH = 1400
# Where the box is drawn: a thin line, in a colour no scan has (BGR).
BOX_COLOUR = (230, 120, 0)
PAGES_KEPT = 8
CROPS_KEPT = 512

K = TypeVar("K")
V = TypeVar("V")


class _Cache(Generic[K, V]):
    """A thread-safe least-recently-used cache that computes a missing value once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[K, threading.Lock] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            lock = self._making.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = make()
            with self._lock:
                self._values[key] = value
                self._making.pop(key, None)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
            return value


class ScanFiles:
    """The scans folder the results' file names are relative to."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._hashes: dict[str, str] = {}

    def path_of(self, name: str) -> Path | None:
        """The scan a results file name stands for; None when it is missing, not a file,
        or its name leads out of the scans folder (``../``, an absolute path, a link out)."""
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def sha256(self, name: str) -> str:
        """The scan's SHA-256 ('' when it is not at hand), worked out once per file."""
        if name not in self._hashes:
            path = self.path_of(name)
            digest = ""
            if path is not None:
                h = hashlib.sha256()
                with path.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        h.update(block)
                digest = h.hexdigest()
            self._hashes[name] = digest
        return self._hashes[name]


def _missing(text: str) -> bytes:
    """A crop's stand-in saying why there is none."""
    image = np.full((60, 520, 3), 245, np.uint8)
    cv2.putText(image, text, (10, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (60, 60, 160), 2, cv2.LINE_AA)
    return cv2.imencode(".png", image)[1].tobytes()


def cut(page: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The field's crop (BGR): its box with a margin, clipped to the page, enlarged to
    SHOWN_HEIGHT (crisp: nearest-neighbour for large factors keeps a bitonal scan's
    edges, cubic below) and the box drawn; the whole page where the box is empty."""
    x, y, w, h = box
    if w <= 0 or h <= 0:  # a field the run found no box for: the whole page, to find it on
        scale = min(1.0, MAX_WIDTH / page.shape[1])
        size = (max(1, round(page.shape[1] * scale)), max(1, round(page.shape[0] * scale)))
        return cv2.cvtColor(cv2.resize(page, size, interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR)
    margin = max(MIN_MARGIN, round(MARGIN * h))
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(page.shape[1], x + w + margin), min(page.shape[0], y + h + margin)
    crop = page[y0:y1, x0:x1]
    if crop.size == 0:
        raise ValueError("the box is off the page")
    scale = max(1.0, SHOWN_HEIGHT / crop.shape[0])
    scale = min(scale, MAX_WIDTH / crop.shape[1]) if crop.shape[1] * scale > MAX_WIDTH else scale
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    interpolation = cv2.INTER_NEAREST if scale >= 3 else cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    shown = cv2.cvtColor(cv2.resize(crop, size, interpolation=interpolation), cv2.COLOR_GRAY2BGR)
    top_left = (round((x - x0) * scale), round((y - y0) * scale))
    bottom_right = (round((x + w - x0) * scale) - 1, round((y + h - y0) * scale) - 1)
    cv2.rectangle(shown, top_left, bottom_right, BOX_COLOUR, 2)
    return shown


class CropCutter:
    """Each queued field's crop as PNG bytes, cut on demand and cached."""

    def __init__(self, scans: ScanFiles, pdf_dpi: int = PDF_DPI) -> None:
        self.scans = scans
        self.pdf_dpi = pdf_dpi
        self._pages: _Cache[tuple[str, int], np.ndarray | None] = _Cache(PAGES_KEPT)
        self._crops: _Cache[str, bytes] = _Cache(CROPS_KEPT)

    def _page(self, name: str, number: int) -> np.ndarray | None:
        path = self.scans.path_of(name)
        if path is None:
            return None
        for page in iter_pages(path, read_kind(path) or "", self.pdf_dpi, first_page=number, last_page=number):
            return page.image
        return None

    def png(self, item: QueueItem) -> bytes:
        """The crop of ``item`` as PNG, or a stand-in that says why there is none (the
        scan is not in the scans folder, cannot be read, or the box is off its page)."""
        return self._crops.get(item.key, lambda: self._make(item))

    def _make(self, item: QueueItem) -> bytes:
        try:
            page = self._pages.get((item.file, item.page), lambda: self._page(item.file, item.page))
        except (OSError, ValueError, DocprocError) as exc:
            return _missing(f"cannot read the scan: {type(exc).__name__}")
        if page is None:
            return _missing("scan not found: give --scans")
        try:
            return cv2.imencode(".png", cut(page, item.box))[1].tobytes()
        except ValueError:
            return _missing("the field's box is off the page")
