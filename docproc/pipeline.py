"""The run: files -> pages -> fields -> glyphs -> normalized crops -> classify -> results.

Pages are processed one at a time; their crops are gathered until a batch is full and
classified together, across fields and pages. Results come out in input order. A file
or page that cannot be read becomes an ``error`` row and the run goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from docproc.classify import DigitClassifier
from docproc.decode import Reading, decode_field
from docproc.errors import InputFileError
from docproc.fields import FieldImage, find_strings, template_fields
from docproc.inputs import InputFile, read_kind
from docproc.normalize import normalize_glyph
from docproc.pages import DEFAULT_IMAGE_DPI, DEFAULT_MAX_PIXELS, DEFAULT_PDF_DPI, Page, iter_pages
from docproc.results import FieldResult
from docproc.segment import Glyph, find_glyphs
from docproc.templates import Template
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

    @property
    def template_name(self) -> str:
        """What the CSV 'template' column says: the template's name, empty without one."""
        return self.template.name if self.template else ""


@dataclass
class RunSummary:
    """Counts for the closing line and the exit status."""

    files: int = 0
    failed_files: int = 0
    pages: int = 0
    fields: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: {"ok": 0, "review": 0, "error": 0})
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """The counts as plain data, for the JSON summary monitoring reads."""
        return {"files": self.files, "failed_files": self.failed_files, "pages": self.pages, "fields": self.fields,
                **self.statuses, "seconds": round(self.seconds, 3),
                "pages_per_second": round(self.pages / self.seconds, 3) if self.seconds > 0 else 0.0}

    def line(self) -> str:
        """One line: pages, fields, ok/review/error, time."""
        s = self.statuses
        rate = self.pages / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.files} files, {self.pages} pages, {self.fields} fields: {s['ok']} ok, {s['review']} review, "
                f"{s['error']} error; {self.seconds:.1f} s ({rate:.1f} pages/s)")


@dataclass
class _PageWork:
    # What a page leaves behind while its crops wait for a full batch: not the page's
    # pixels, which would pile up by the batch's worth of pages.
    file: InputFile
    page_number: int
    fields: list[FieldImage]
    glyphs: list[list[Glyph]]
    first_crop: int = 0


def _crops_of(glyphs: list[Glyph]) -> list[np.ndarray]:
    crops = []
    for glyph in glyphs:
        crops.append(normalize_glyph(glyph.ink))
        for split in glyph.splits:
            crops.extend(normalize_glyph(piece) for piece in split)
    return crops


def _readings(glyphs: list[Glyph], probabilities: np.ndarray, singles: np.ndarray | None,
              ) -> tuple[list[Reading], int]:
    """Each glyph's reading options from its rows of ``probabilities`` and ``singles``
    (laid out as ``_crops_of`` made them), and how many rows they took."""
    readings, at = [], 0
    for glyph in glyphs:
        spans = [(at, at + 1)]
        at += 1
        for split in glyph.splits:
            spans.append((at, at + len(split)))
            at += len(split)
        options = tuple(tuple(probabilities[a:b]) for a, b in spans)
        checks = None if singles is None else tuple(tuple(float(v) for v in singles[a:b]) for a, b in spans)
        readings.append(Reading(options, checks))
    return readings, at


def page_fields(page: Page, template: Template | None) -> list[FieldImage]:
    """The fields of one page: the template's, registered, or the strings found."""
    if template is None:
        return find_strings(page.image)
    fields, angle, shift = template_fields(page.image, template)
    log.debug("page %d: skew %.2f deg, shift %s px", page.number, angle, shift)
    return fields


def _page_rows(work: _PageWork, probabilities: np.ndarray, singles: np.ndarray | None,
               options: RunOptions) -> list[FieldResult]:
    rows, at = [], 0
    for field_image, glyphs in zip(work.fields, work.glyphs):
        readings, used = _readings(glyphs, probabilities[at:], None if singles is None else singles[at:])
        at += used
        decoded = decode_field(readings, field_image.spec, options.review_below)
        rows.append(FieldResult(work.file.name, work.page_number, options.template_name, field_image.name, decoded.text,
                                decoded.confidence, decoded.digit_confidences, decoded.status, "", field_image.box))
    return rows


def _pages_or_error(item: InputFile, options: RunOptions) -> Iterator[Page | FieldResult]:
    """A file's pages; a failure becomes one error row at the page it happened on."""
    template_name = options.template_name
    number = 1
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
                               options.max_pixels):
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


def run(files: list[InputFile], classifier: DigitClassifier, options: RunOptions,
        on_page: Callable[[InputFile, int], None] | None = None) -> Iterator[FieldResult]:
    """Read every file; yield result rows in input order, classifying in batches."""
    pending: list[_PageWork | FieldResult] = []
    crops: list[np.ndarray] = []

    def flush() -> Iterator[FieldResult]:
        batch = np.stack(crops) if crops else np.empty((0, 28, 28), np.float32)
        probabilities = classifier.predict(batch)
        singles = classifier.check.predict(batch) if classifier.check is not None else None
        for entry in pending:
            if isinstance(entry, FieldResult):
                yield entry
            else:
                first = entry.first_crop
                yield from _page_rows(entry, probabilities[first:], None if singles is None else singles[first:], options)
        pending.clear()
        crops.clear()

    for item in files:
        timer = FileTimer(options.file_timeout)
        next_page = 1
        try:
            with timer:
                for page_or_error in _pages_or_error(item, options):
                    if isinstance(page_or_error, FieldResult):
                        pending.append(page_or_error)
                        continue
                    page = page_or_error
                    fields = page_fields(page, options.template)
                    glyphs = [find_glyphs(f.image) for f in fields]
                    work = _PageWork(item, page.number, fields, glyphs, first_crop=len(crops))
                    for g in glyphs:
                        crops.extend(_crops_of(g))
                    pending.append(work)
                    next_page = page.number + 1
                    if on_page is not None:
                        on_page(item, page.number)
                    if len(crops) >= classifier.batch_size:
                        # The batch holds other files' crops too: its time is not this file's.
                        with timer.paused():
                            yield from flush()
        except TimeLimitExceeded:
            pending.append(FieldResult(
                item.name, next_page, options.template_name, "", status="error",
                error=f"stopped after {options.file_timeout:g} s (--file-timeout): the file hangs or reads too slowly; "
                      "check it, or raise the limit"))
    yield from flush()


def run_all(files: list[InputFile], classifier: DigitClassifier, options: RunOptions,
            on_page: Callable[[InputFile, int], None] | None = None) -> tuple[list[FieldResult], RunSummary]:
    """Run and collect every row with a summary of the counts."""
    started = time.perf_counter()
    summary = RunSummary(files=len(files))
    rows: list[FieldResult] = []
    failed: set[str] = set()

    def count_page(item: InputFile, number: int) -> None:
        summary.pages += 1
        log.info("%s page %d: read", item.name, number)
        if on_page is not None:
            on_page(item, number)

    for row in run(files, classifier, options, count_page):
        rows.append(row)
        summary.statuses[row.status] += 1
        if row.status == "error":
            log.warning("%s page %d: %s", row.file, row.page, row.error)
            failed.add(row.file)
        else:
            summary.fields += 1
    summary.failed_files = len(failed)
    summary.seconds = time.perf_counter() - started
    return rows, summary
