"""Find the PDF pages that are bare scans, for reading without rendering: bitonal ones
always, JPEG ones with --direct-pdf-scans.

A scanner's PDF page is one JPEG drawn over the whole page and nothing else. Its pixels
are the JPEG's: decoded to grey and scaled to the rendering resolution (docproc.ingest.pages
does both) they are what poppler renders, to within a grey level or two on average, in
about a tenth of the time (poppler starts a process per call, parses the PDF and
resamples through its own imaging path). A page that is anything else (text, drawing,
annotations, masks, rotation, another image encoding, a damaged file) is left to
poppler: ``bare_scan`` returns None.

For JPEG pages it is an option, not the default: the small differences at stroke edges
change a few readings either way, and ``benchmarks.fields`` measures the balance on its
forms. A bitonal page (one 1-bit image: CCITT G3/G4, LZW, Flate, as archives store
cheques) is always read from its image, so it gets the grey that bitonal TIFFs get
(docproc.ingest.bitonal): poppler smooths a dithered image into a blur the digits do not
survive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pikepdf

log = logging.getLogger("docproc")

# Colour spaces whose JPEG decodes straight to the page's greys: grey and RGB, bare or
# with an ICC profile (scanners embed one, mostly sRGB, which poppler renders as it does
# bare RGB; other profiles are not applied here). CMYK, Lab, indexed and separations go
# to poppler.
_GREY_OR_RGB = ("/DeviceGray", "/DeviceRGB")
# Where the image must land: on the media box, to within this many points.
_PLACEMENT_TOLERANCE_PT = 0.5
# Content-stream operators a bare scan page may hold: save, restore, transform, draw.
_SCAN_OPERATORS = {"q", "Q", "cm", "Do"}


@dataclass(frozen=True)
class BareScan:
    """A page that is one image over the whole page: a JPEG's bytes (empty for a bitonal
    image), the image's size in pixels as the PDF states it, the page's size in points,
    and, for a bitonal image, its XObject, left undecoded until its size is known to be
    allowed (``ScannedPdf.white``: a 1-bit image may claim a bomb's pixels in a few bytes)."""

    jpeg: bytes
    pixels: tuple[int, int]
    points: tuple[float, float]
    bitonal: object | None = None


class ScannedPdf:
    """An open PDF whose bare scanned pages can be had without rendering. (pikepdf is
    imported when a PDF is read, not with docproc: it takes a twentieth of a second.)"""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf

    def bare_scan(self, number: int, jpeg: bool = True) -> BareScan | None:
        """Page ``number`` (from 1) when it is a bare bitonal scan, or (with ``jpeg``) a bare
        JPEG scan; None when poppler must render it."""
        try:
            return _bare_scan(self.pdf.pages[number - 1], jpeg)
        except _unreadable() as exc:
            # An odd or damaged page is poppler's to render, or to report.
            log.debug("page %d left to poppler: %s", number, exc)
            return None

    def white(self, scan: BareScan) -> np.ndarray | None:
        """A bare bitonal scan's pixels (True where white), decoded; None when they cannot
        be (poppler then renders the page, or reports what is wrong with it)."""
        import pikepdf

        try:
            decoded = pikepdf.PdfImage(scan.bitonal).as_pil_image()
        except _unreadable() as exc:
            log.debug("bitonal image left to poppler: %s", exc)
            return None
        if decoded.size != scan.pixels or decoded.mode not in ("1", "L"):
            return None
        return np.asarray(decoded.convert("1"), bool)


def _unreadable() -> tuple[type[BaseException], ...]:
    """What pikepdf raises for a page or image it cannot read: a damaged file, an odd
    object, an image encoding it cannot decode (UnsupportedImageTypeError, and
    DependencyError for a JBIG2 image without its decoder, are among these)."""
    import pikepdf

    return (pikepdf.PdfError, KeyError, AttributeError, IndexError, TypeError, ValueError, RuntimeError,
            NotImplementedError, OSError)


class _QpdfNotesToDebug(logging.Filter):
    """qpdf's complaints about a damaged file, which pikepdf logs as errors, told at DEBUG:
    this module only looks at the file, and poppler reports what is wrong with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().strip():
            log.debug("pikepdf: %s", record.getMessage().strip())
        return False


@contextmanager
def open_scanned_pdf(path: Path) -> Iterator[ScannedPdf | None]:
    """The PDF opened for direct page reads, or None when pikepdf cannot open it (it is
    encrypted, damaged or not a PDF; poppler then renders it, and reports what it finds)."""
    import pikepdf

    qpdf_log = logging.getLogger("pikepdf._core")
    if not any(isinstance(f, _QpdfNotesToDebug) for f in qpdf_log.filters):
        qpdf_log.addFilter(_QpdfNotesToDebug())
    try:
        pdf = pikepdf.Pdf.open(path)
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        log.debug("%s: pages left to poppler: %s", path, exc)
        yield None
        return
    with pdf:
        yield ScannedPdf(pdf)


def _bare_scan(page: pikepdf.Page, jpeg: bool) -> BareScan | None:
    """The page as a BareScan when it is one bitonal image, or (with ``jpeg``) one JPEG,
    drawn over the whole media box and nothing else; None for any other page."""
    box = _plain_page_box(page)
    if box is None:
        return None
    drawn = _the_one_image_drawn(page)
    if drawn is None:
        return None
    name, matrix = drawn
    if not _fills_box(matrix, box):
        return None
    image = page.resources.XObject[name]
    x0, y0, x1, y1 = box
    pixels, points = (int(image.Width), int(image.Height)), (x1 - x0, y1 - y0)
    if _plain_bitonal(image):
        return BareScan(b"", pixels, points, image)
    if not jpeg or not _plain_jpeg(image):
        return None
    return BareScan(bytes(image.read_raw_bytes()), pixels, points)


def _plain_page_box(page: pikepdf.Page) -> tuple[float, float, float, float] | None:
    """The page's media box (x0, y0, x1, y1) when nothing changes how it is drawn (no
    rotation, annotations, user unit or crop box of its own); None otherwise."""
    if page.rotation % 360 or page.obj.get("/Annots") or float(page.obj.get("/UserUnit", 1)) != 1:
        return None
    box = [float(v) for v in page.mediabox]
    if [float(v) for v in page.cropbox] != box:
        return None  # poppler clips to the crop box
    return min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])


def _the_one_image_drawn(page: pikepdf.Page) -> tuple[object, np.ndarray] | None:
    """The name of the one XObject the page's content draws, and the matrix it is drawn
    with, when the content does nothing else (only save, restore, transform, draw)."""
    import pikepdf

    matrix = np.eye(3)
    stack: list[np.ndarray] = []
    drawn = None
    for instruction in pikepdf.parse_content_stream(page):
        operator = str(instruction.operator)
        if operator not in _SCAN_OPERATORS:
            return None
        if operator == "q":
            stack.append(matrix)
        elif operator == "Q":
            if not stack:
                return None
            matrix = stack.pop()
        elif operator == "cm":
            a, b, c, d, e, f = (float(v) for v in instruction.operands)
            matrix = np.array([[a, b, 0.0], [c, d, 0.0], [e, f, 1.0]]) @ matrix
        else:  # Do
            if drawn is not None:
                return None
            drawn = (instruction.operands[0], matrix)
    return drawn


def _fills_box(matrix: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """Whether the unit square an image fills, drawn with ``matrix``, lands on the box
    upright and unmirrored."""
    x0, y0, x1, y1 = box
    (a, b, _), (c, d, _), (e, f, _) = matrix
    if abs(b) > 1e-9 or abs(c) > 1e-9 or a <= 0 or d <= 0:
        return False
    return max(abs(e - x0), abs(f - y0), abs(e + a - x1), abs(f + d - y1)) <= _PLACEMENT_TOLERANCE_PT


def _plain_jpeg(image: pikepdf.Object) -> bool:
    """Whether an XObject is an 8-bit grey or RGB JPEG image drawn as it decodes."""
    import pikepdf

    filters = image.get("/Filter")
    if isinstance(filters, pikepdf.Array) and len(filters) == 1:
        filters = filters[0]
    if image.get("/Subtype") != "/Image" or filters != "/DCTDecode":
        return False
    # Masks, inverted decoding and explicit colour transforms change what is drawn.
    if any(key in image for key in ("/SMask", "/Mask", "/Decode", "/ImageMask", "/DecodeParms")):
        return False
    return int(image.get("/BitsPerComponent", 0)) == 8 and _grey_or_rgb(image.get("/ColorSpace"))


def _plain_bitonal(image: pikepdf.Object) -> bool:
    """Whether an XObject is a 1-bit grey image drawn as it decodes (any filter pikepdf
    decodes; not a stencil mask, not masked, not inverted by a /Decode)."""
    if image.get("/Subtype") != "/Image" or bool(image.get("/ImageMask", False)):
        return False
    if any(key in image for key in ("/SMask", "/Mask", "/Decode")):
        return False
    return int(image.get("/BitsPerComponent", 0)) == 1 and image.get("/ColorSpace") == "/DeviceGray"


def _grey_or_rgb(space: object) -> bool:
    import pikepdf

    if isinstance(space, pikepdf.Name):
        return str(space) in _GREY_OR_RGB
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == "/ICCBased":
        return int(space[1].get("/N", 0)) in (1, 3)
    return False
