"""The CPU stages of reading one file: pages -> fields -> glyphs -> normalized crops.

What comes out is plain data that is cheap to send between processes: each field's
crops and the shape of its reading options, never a page's pixels. The classifier and
the decoder (pipeline.py) take it from there, in this process or another.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from docproc.errors import InputFileError
from docproc.fields import FieldImage, find_strings, template_fields
from docproc.inputs import InputFile, read_kind
from docproc.normalize import normalize_glyph
from docproc.pages import DEFAULT_IMAGE_DPI, DEFAULT_MAX_PIXELS, DEFAULT_PDF_DPI, Page, iter_pages, pdf_page_count
from docproc.results import FieldResult
from docproc.segment import Glyph, find_glyphs
from docproc.templates import FieldSpec, Template
from docproc.time_limit import FileTimer, TimeLimitExceeded

log = logging.getLogger("docproc")


@dataclass(frozen=True)
class RunOptions:
    """How to read: template (or None to find strings), resolutions, batching, review threshold."""

    template: Template | None = None
    pdf_dpi: int = DEFAULT_PDF_DPI
    image_dpi: float = DEFAULT_IMAGE_DPI
    force_image_dpi: bool = False
    review_below: float = 0.9
    max_pixels: int = DEFAULT_MAX_PIXELS
    file_timeout: float | None = None  # seconds of work per file; None: no limit
    direct_pdf_scans: bool = False  # bare scanned PDF pages straight from their JPEG (docproc.pdf_scans)

    @property
    def template_name(self) -> str:
        """What the CSV 'template' column says: the template's name, empty without one."""
        return self.template.name if self.template else ""


@dataclass(frozen=True)
class PreparedField:
    """A field ready for the classifier: its crops, and for each glyph the number of
    pieces in each split alternative and whether it has a joined alternative with the
    next glyph (the crops hold each glyph whole, then its splits' pieces, then the joined
    crop, in that order)."""

    name: str
    box: tuple[int, int, int, int]
    spec: FieldSpec | None
    splits: tuple[tuple[int, ...], ...]
    crops: np.ndarray  # (n, 28, 28) float32
    joins: tuple[bool, ...]


@dataclass(frozen=True)
class PreparedPage:
    """One page's fields, ready for the classifier."""

    number: int
    fields: tuple[PreparedField, ...]


def page_fields(page: Page, template: Template | None) -> list[FieldImage]:
    """The fields of one page: the template's, registered, or the strings found."""
    if template is None:
        return find_strings(page.image)
    fields, angle, shift = template_fields(page.image, template)
    log.debug("page %d: skew %.2f deg, shift %s px", page.number, angle, shift)
    return fields


def _crops_of(glyphs: list[Glyph]) -> list[np.ndarray]:
    crops = []
    for glyph in glyphs:
        crops.append(normalize_glyph(glyph.ink))
        for split in glyph.splits:
            crops.extend(normalize_glyph(piece) for piece in split)
        if glyph.joined is not None:
            crops.append(normalize_glyph(glyph.joined))
    return crops


def prepare_field(field_image: FieldImage) -> PreparedField:
    """Segment a field and normalize every crop its reading options need."""
    glyphs = find_glyphs(field_image.image)
    crops = _crops_of(glyphs)
    stacked = np.stack(crops).astype(np.float32) if crops else np.empty((0, 28, 28), np.float32)
    return PreparedField(field_image.name, field_image.box, field_image.spec,
                         tuple(tuple(len(split) for split in g.splits) for g in glyphs), stacked,
                         tuple(g.joined is not None for g in glyphs))


def prepare_page(page: Page, template: Template | None) -> PreparedPage:
    """Find a page's fields and prepare each."""
    return PreparedPage(page.number, tuple(prepare_field(f) for f in page_fields(page, template)))


def _pages_or_error(item: InputFile, options: RunOptions, first_page: int = 1,
                    last_page: int | None = None) -> Iterator[Page | FieldResult]:
    """A file's pages (``first_page`` to ``last_page``, default all); a failure becomes
    one error row at the page it happened on."""
    template_name = options.template_name
    number = first_page
    try:
        if item.path.exists() and not item.path.is_file():
            # A named pipe or a device would block or stream forever when opened.
            raise InputFileError("not a regular file (a folder, named pipe or device); give scan files.")
        kind = read_kind(item.path)
        if kind is None:
            if item.path.stat().st_size == 0:
                raise InputFileError("empty file (0 bytes): the scan was not written; scan or copy it again.")
            raise InputFileError("not a PDF, PNG, JPEG, BMP or TIFF file (judged by its content).")
        for page in iter_pages(item.path, kind, options.pdf_dpi, options.image_dpi, options.force_image_dpi,
                               options.max_pixels, first_page, last_page, options.direct_pdf_scans):
            yield page
            number = page.number + 1
    except FileNotFoundError:
        detail = (f"file not found: a symbolic link to {os.readlink(item.path)}, which does not exist"
                  if item.path.is_symlink() else "file not found")
        yield FieldResult(item.name, number, template_name, "", status="error", error=detail)
    except OSError as exc:
        yield FieldResult(item.name, number, template_name, "", status="error", error=f"cannot read: {exc.strerror or exc}")
    except InputFileError as exc:
        yield FieldResult(item.name, number, template_name, "", status="error", error=exc.message)


def prepare_file(item: InputFile, options: RunOptions, first_page: int = 1,
                 last_page: int | None = None) -> Iterator[PreparedPage | FieldResult]:
    """A file's pages (or a run of them), prepared one at a time, or the error row that ended it."""
    for page_or_error in _pages_or_error(item, options, first_page, last_page):
        if isinstance(page_or_error, FieldResult):
            yield page_or_error
        else:
            yield prepare_page(page_or_error, options.template)


def timeout_row(item: InputFile, page: int, options: RunOptions) -> FieldResult:
    """The error row of a file stopped by --file-timeout at ``page``."""
    return FieldResult(item.name, page, options.template_name, "", status="error",
                       error=f"stopped after {options.file_timeout:g} s (--file-timeout): the file hangs or reads "
                             "too slowly; check it, or raise the limit")


@dataclass(frozen=True)
class PreparedPart:
    """What a worker sends back for a run of a file's pages: the prepared pages (and the
    error row that ended them, if any), and for a PDF's first run, how many pages it has."""

    entries: list[PreparedPage | FieldResult]
    page_count: int | None = None


def prepare_part(item: InputFile, options: RunOptions, first_page: int = 1,
                 last_page: int | None = None) -> PreparedPart:
    """Pages ``first_page`` to ``last_page`` (default: to the end) of a file prepared,
    under the file's time limit: the unit of work a worker process does (it has its own
    main thread, so the limit works there)."""
    prepared: list[PreparedPage | FieldResult] = []
    try:
        with FileTimer(options.file_timeout):
            for entry in prepare_file(item, options, first_page, last_page):
                prepared.append(entry)
    except TimeLimitExceeded:
        pages = [p for p in prepared if isinstance(p, PreparedPage)]
        prepared.append(timeout_row(item, pages[-1].number + 1 if pages else first_page, options))
    page_count = None
    if first_page == 1 and last_page is not None:
        # The caller splits long PDFs: it needs the count to send out the other runs. A
        # file that stopped short of last_page has told it already (an error there ends
        # the file anyway); only one that reached it is asked.
        pages_read = sum(isinstance(p, PreparedPage) for p in prepared)
        if pages_read < last_page:
            page_count = pages_read
        elif not any(isinstance(p, FieldResult) for p in prepared):
            with contextlib.suppress(InputFileError, OSError):
                page_count = pdf_page_count(item.path, options.pdf_dpi, options.max_pixels)
    return PreparedPart(prepared, page_count)
