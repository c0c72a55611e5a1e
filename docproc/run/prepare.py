"""The CPU stages of reading one file: pages -> fields -> glyphs -> normalized crops.

What comes out is plain data that is cheap to send between processes: each field's
crops and their layout, never a page's pixels. The classifier and the decoder
(pipeline.py) take it from there, in this process or another. A file that cannot be read
on raises ``FileReadFailed`` at the page it happened on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from docproc.config import RunOptions
from docproc.errors import InputFileError
from docproc.glyphs.crop_layout import CropLayout, lay_out
from docproc.glyphs.line_image import line_image
from docproc.glyphs.segment import CROSSES_EDGE, field_writing, segment_field
from docproc.ingest.inputs import InputFile, read_kind
from docproc.ingest.pages import Page, iter_pages
from docproc.layout.field_image import FieldImage
from docproc.layout.page_fields import page_fields
from docproc.layout.templates import FieldSpec, Template
from docproc.run.failures import FileFailure, FileReadFailed, internal_error
from docproc.run.time_limit import TimeLimitExceeded


@dataclass(frozen=True)
class PreparedField:
    """A field ready for the classifier: its crops, and how they are laid out."""

    name: str
    box: tuple[int, int, int, int]
    spec: FieldSpec | None
    crops: np.ndarray  # (n, 28, 28) float32
    layout: CropLayout
    doubt: str = ""  # why the field's place on the page is in doubt (layout.field_image)
    part: int = 1  # which document on the page (layout.field_image)
    line: np.ndarray | None = None  # (32, W) the sequence reader's input (glyphs.line_image); None when not read so


@dataclass(frozen=True)
class PreparedPage:
    """One page's fields, ready for the classifier."""

    number: int
    fields: tuple[PreparedField, ...]
    size: tuple[int, int] = (0, 0)  # the page as rasterized: width, height in pixels
    dpi: float = 0.0  # its resolution (a PDF page's rendering, an image's own or IMAGE_DPI)


def prepare_field(field_image: FieldImage, lines: bool = False) -> PreparedField:
    """Segment a field and normalize every crop its reading options need; with ``lines``,
    make the sequence reader's line image too, from the same writing. A template's field
    whose writing crosses the edge of its box is in doubt (a string found without a
    template is boxed around its ink, so touching its edge says nothing)."""
    found = field_writing(field_image.image)
    segmented = segment_field(field_image.image, found)
    crops, layout = lay_out(segmented.glyphs)
    doubts = [field_image.doubt] if field_image.doubt else []
    if segmented.crosses_edge and field_image.spec is not None:
        doubts.append(CROSSES_EDGE)
    return PreparedField(field_image.name, field_image.box, field_image.spec, crops, layout, "; ".join(doubts),
                         field_image.part, line_image(field_image.image, found) if lines else None)


def prepare_page(page: Page, template: Template | None, split_documents: bool = False,
                 lines: bool = False) -> PreparedPage:
    """Find a page's fields (of each document on it, with ``split_documents``) and prepare
    each (with its line image, with ``lines``). A template's fields are those on the page
    (its ``pages``); a page with none of them is not looked at."""
    size = (int(page.image.shape[1]), int(page.image.shape[0]))
    if template is not None:
        template = template.on_page(page.number)
        if not template.fields:
            return PreparedPage(page.number, (), size, page.dpi)
    return PreparedPage(page.number, tuple(prepare_field(f, lines)
                                           for f in page_fields(page, template, split_documents)), size, page.dpi)


def _kind(item: InputFile) -> str:
    """The document kind of an input; InputFileError when it is none docproc reads."""
    if item.path.exists() and not item.path.is_file():
        # A named pipe or a device would block or stream forever when opened.
        raise InputFileError("not a regular file (a folder, named pipe or device); give scan files.")
    kind = read_kind(item.path)
    if kind is None:
        if item.path.stat().st_size == 0:
            raise InputFileError("empty file (0 bytes): the scan was not written; scan or copy it again.")
        raise InputFileError("not a PDF, PNG, JPEG, BMP or TIFF file (judged by its content).")
    return kind


def _cannot_read(item: InputFile, exc: Exception) -> str:
    """What to tell the user of a file that failed with ``exc``."""
    if isinstance(exc, FileNotFoundError):
        return (f"file not found: a symbolic link to {os.readlink(item.path)}, which does not exist"
                if item.path.is_symlink() else "file not found")
    if isinstance(exc, InputFileError):
        return exc.message
    assert isinstance(exc, OSError)
    return f"cannot read: {exc.strerror or exc}"


def file_pages(item: InputFile, options: RunOptions, first_page: int = 1,
               last_page: int | None = None) -> Iterator[Page]:
    """A file's pages (``first_page`` to ``last_page``, default all); FileReadFailed at the
    page where it cannot be read on."""
    number = first_page
    try:
        for page in iter_pages(item.path, _kind(item), options.pdf_dpi, options.max_pixels, first_page, last_page,
                               options.direct_pdf_scans):
            yield page
            number = page.number + 1
    except (OSError, InputFileError) as exc:
        raise FileReadFailed(FileFailure(number, _cannot_read(item, exc))) from exc


def prepare_file(item: InputFile, options: RunOptions, first_page: int = 1,
                 last_page: int | None = None) -> Iterator[PreparedPage]:
    """A file's pages (or a run of them), prepared one at a time; FileReadFailed at the
    page where the file cannot be read on, or where any stage fails unexpectedly (an
    internal error, unless ``options.raise_on_error``): one file never ends a run."""
    number = first_page
    try:
        for page in file_pages(item, options, first_page, last_page):
            yield prepare_page(page, options.template, options.split_documents, options.reads_lines)
            number = page.number + 1
    except (FileReadFailed, TimeLimitExceeded):
        raise
    except Exception as exc:  # any bug in a stage: this file's error row, not the run's end
        if options.raise_on_error:
            raise
        raise FileReadFailed(internal_error(number, exc)) from exc
