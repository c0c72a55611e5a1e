"""Pages of a document, one at a time, as 8-bit grey images with their resolution.

PDFs are read page by page, so a 500-page PDF never sits in memory whole: rendered
through poppler (pdf2image) or, on request, bare scanned pages straight from their JPEG. Images
(multi-page TIFF included) are decoded frame by frame by Pillow. Any mode Pillow reads
(16-bit, CMYK, palette, alpha) comes out as grey on white.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from docproc.config import IMAGE_DPI, MAX_PIXELS, PDF_DPI
from docproc.errors import InputFileError
from docproc.ingest.bitonal import grey_from_bitonal
from docproc.ingest.pdf_scans import ScannedPdf, open_scanned_pdf

log = logging.getLogger("docproc")

# Metadata outside this range is treated as absent: 72 or 1 dpi tags written by software
# that never knew the scan's resolution are common, and 10,000 dpi is no scanner.
PLAUSIBLE_DPI = (100.0, 1200.0)
POPPLER_TIMEOUT_S = 120
# docproc checks each page against --max-pixels itself, so Pillow's process-wide check is off.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class Page:
    """One page: its number (from 1), grey uint8 pixels (ink dark), and dots per inch
    (a PDF page's rendering resolution; an image's own, or IMAGE_DPI where it states none)."""

    number: int
    image: np.ndarray
    dpi: float


def _ask_for_luma(jpeg: Image.Image) -> None:
    """Have libjpeg hand over a JPEG's luma plane instead of decoding colour and
    converting it back: the same greys (JPEG's Y uses L's weights) in a third of the time
    on a colour cheque scan."""
    jpeg.draft("L", jpeg.size)


def _grey(frame: Image.Image) -> np.ndarray:
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        # Transparent areas are paper: composite on white before dropping alpha.
        rgba = frame.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(white, rgba)
    if frame.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(frame, dtype=np.float64)
        top = wide.max() if wide.size else 0.0
        scale = 255.0 / (65535.0 if top > 255 else max(top, 1.0))
        return np.clip(wide * scale, 0, 255).astype(np.uint8)
    if frame.mode == "L":
        return np.asarray(frame)
    if frame.mode == "1":
        return grey_from_bitonal(np.asarray(frame, dtype=bool))
    return np.asarray(frame.convert("L"))


def check_size(width: float, height: float, max_pixels: int) -> None:
    """InputFileError when a page of ``width`` x ``height`` pixels is over the limit."""
    if width * height > max_pixels:
        raise InputFileError(
            f"page is {width:.0f} x {height:.0f} pixels ({width * height / 1e6:.0f} megapixels), over the limit of "
            f"{max_pixels / 1e6:.0f}; refused before decoding as a possible decompression bomb. "
            "If it is a genuine scan, raise --max-megapixels."
        )


def _frame_dpi(frame: Image.Image, fallback: float) -> float:
    raw = frame.info.get("dpi")
    try:
        dpi = float(raw[0]) if isinstance(raw, tuple) else float(raw) if raw is not None else 0.0
    except (TypeError, ValueError):
        dpi = 0.0
    low, high = PLAUSIBLE_DPI
    return dpi if low <= dpi <= high else fallback


def image_pages(path: Path, max_pixels: int = MAX_PIXELS) -> Iterator[Page]:
    """Frames of a PNG, JPEG, BMP or (multi-page) TIFF as grey pages.

    Raises InputFileError when the file cannot be decoded or a frame is larger than
    ``max_pixels`` (checked from the header, before decoding).
    """
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                _ask_for_luma(image)
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                check_size(*frame.size, max_pixels)
                if frame.format == "JPEG":
                    ImageOps.exif_transpose(frame, in_place=True)
                dpi = _frame_dpi(frame, IMAGE_DPI)
                yield Page(number=number, image=np.ascontiguousarray(_grey(frame)), dpi=dpi)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        # Pillow reports truncated and corrupt data as OSError/ValueError/SyntaxError.
        raise InputFileError(f"cannot decode image: {exc}. Re-scan or re-export the file.") from exc


def pdf_page_count(path: Path, dpi: int = PDF_DPI, max_pixels: int = MAX_PIXELS) -> int:
    """Number of pages of a PDF, from poppler's pdfinfo; InputFileError when its page
    size rendered at ``dpi`` would exceed ``max_pixels``."""
    from pdf2image import pdfinfo_from_path
    from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFPopplerTimeoutError

    try:
        info = pdfinfo_from_path(str(path), timeout=POPPLER_TIMEOUT_S)
    except PDFInfoNotInstalledError as exc:
        raise InputFileError("poppler's pdfinfo is not installed: install poppler-utils "
                             "(apt-get install poppler-utils).") from exc
    except PDFPopplerTimeoutError as exc:
        raise InputFileError(f"poppler took over {POPPLER_TIMEOUT_S} s to open the PDF.") from exc
    except PDFPageCountError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        encrypted = "password" in detail.lower()
        hint = " It is encrypted: save an unprotected copy." if encrypted else " The PDF is damaged: re-export it."
        raise InputFileError(f"cannot read PDF ({detail}).{hint}") from exc
    pages = int(info.get("Pages", 0))
    if pages < 1:
        raise InputFileError("the PDF has no pages.")
    size = str(info.get("Page size", "")).split()
    if len(size) >= 3 and size[1] == "x":
        try:
            width_pt, height_pt = float(size[0]), float(size[2])
        except ValueError:
            pass
        else:
            check_size(width_pt / 72 * dpi, height_pt / 72 * dpi, max_pixels)
    return pages


# Pages rendered per poppler call: each call starts a process and parses the PDF again,
# which cost about 30 ms of a form page's 100 ms one page at a time; eight grey letter
# pages at 200 dpi are about 30 MB while they wait to be read.
PDF_PAGES_PER_CALL = 8


def _render(path: Path, dpi: int, first: int, last: int) -> list[Image.Image]:
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPopplerTimeoutError, PDFSyntaxError

    try:
        return convert_from_path(str(path), dpi=dpi, first_page=first, last_page=last, grayscale=True,
                                 timeout=POPPLER_TIMEOUT_S)
    except (PDFSyntaxError, PDFPopplerTimeoutError) as exc:
        where = f"page {first}" if first == last else f"pages {first}-{last}"
        raise InputFileError(f"poppler could not render {where}: {exc}") from exc


def _rendered_pages(path: Path, dpi: int, first: int, last: int) -> Iterator[Page]:
    """Pages ``first`` to ``last`` rendered by poppler in one call."""
    try:
        rendered = _render(path, dpi, first, last)
    except InputFileError:
        rendered = []
    if len(rendered) != last - first + 1:
        # Something in this run of pages is damaged: one page at a time, the good pages
        # before it are read and the error names the page at fault.
        rendered = []
        for number in range(first, last + 1):
            single = _render(path, dpi, number, number)
            if not single:
                raise InputFileError(f"poppler rendered nothing for page {number}; the PDF is damaged: re-export it.")
            yield Page(number=number, image=np.ascontiguousarray(_grey(single[0])), dpi=float(dpi))
        return
    for number in range(first, last + 1):
        image = rendered.pop(0)  # let each rendered page go once it has been read
        yield Page(number=number, image=np.ascontiguousarray(_grey(image)), dpi=float(dpi))


def scan_page(scans: ScannedPdf, number: int, dpi: int, max_pixels: int, jpeg: bool = True) -> np.ndarray | None:
    """PDF page ``number`` in grey at ``dpi`` (poppler's size for it) from its image, when it
    is a bare bitonal scan or (with ``jpeg``) a bare JPEG scan; None when poppler must
    render it: any other page, one over ``max_pixels`` (in the image or at ``dpi``:
    poppler's path has the checks), or a JPEG that does not decode to the size the PDF
    states (poppler renders what it can of it)."""
    scan = scans.bare_scan(number, jpeg)
    if scan is None:
        return None
    width_pt, height_pt = scan.points
    # poppler's page size: the page in points at dpi, rounded up.
    size = (math.ceil(round(width_pt * dpi / 72, 6)), math.ceil(round(height_pt * dpi / 72, 6)))
    if max(scan.pixels[0] * scan.pixels[1], size[0] * size[1]) > max_pixels:
        return None
    if scan.bitonal is not None:
        white = scans.white(scan)
        return None if white is None else _at_size(grey_from_bitonal(white), size)
    try:
        with Image.open(io.BytesIO(scan.jpeg)) as jpeg:
            if jpeg.format != "JPEG" or jpeg.size != scan.pixels or jpeg.mode not in ("L", "RGB"):
                return None
            _ask_for_luma(jpeg)
            grey = _grey(jpeg)
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's ways of saying "corrupt", as in image_pages
        log.debug("page %d's JPEG left to poppler: %s", number, exc)
        return None
    return _at_size(grey, size)


def _at_size(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A scan's grey at the (width, height) poppler would render its page at."""
    if (grey.shape[1], grey.shape[0]) == size:
        return grey
    # Shrinking averages the pixels each output pixel covers; enlarging interpolates.
    shrinking = size[0] < grey.shape[1]
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def pdf_pages(path: Path, dpi: int = PDF_DPI, max_pixels: int = MAX_PIXELS,
              first_page: int = 1, last_page: int | None = None, direct_scans: bool = False) -> Iterator[Page]:
    """Pages ``first_page`` to ``last_page`` (default: the end) of a PDF in grey at
    ``dpi``, rendered by poppler a few pages per call, but bare bitonal scans straight
    from their image and, with ``direct_scans``, bare JPEG scans straight from their JPEG
    (docproc.ingest.pdf_scans)."""
    count = pdf_page_count(path, dpi, max_pixels)
    end = count if last_page is None else min(count, last_page)
    with open_scanned_pdf(path) as scans:
        number = first_page
        while number <= end:
            direct = scan_page(scans, number, dpi, max_pixels, direct_scans) if scans is not None else None
            if direct is not None:
                yield Page(number=number, image=direct, dpi=float(dpi))
                number += 1
                continue
            last = min(end, number + PDF_PAGES_PER_CALL - 1)
            yield from _rendered_pages(path, dpi, number, last)
            number = last + 1


def iter_pages(path: Path, kind: str, pdf_dpi: int = PDF_DPI, max_pixels: int = MAX_PIXELS, first_page: int = 1,
               last_page: int | None = None, direct_pdf_scans: bool = False) -> Iterator[Page]:
    """Pages ``first_page`` to ``last_page`` (default: all) of a document of the given sniffed ``kind``."""
    if kind == "pdf":
        return pdf_pages(path, pdf_dpi, max_pixels, first_page, last_page, direct_pdf_scans)
    frames = image_pages(path, max_pixels)
    if first_page == 1 and last_page is None:
        return frames
    return (page for page in frames if page.number >= first_page and (last_page is None or page.number <= last_page))
