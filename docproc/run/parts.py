"""Parts of files: the unit of work a worker process does. A file is one part, but a
long PDF is read in parts of PAGES_PER_PART pages, so every worker can help with it (its
pages render independently)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from docproc.config import RunOptions
from docproc.errors import InputFileError
from docproc.ingest.inputs import InputFile, read_kind
from docproc.ingest.pages import pdf_page_count
from docproc.run.failures import FileFailure, FileReadFailed, timed_out
from docproc.run.prepare import PreparedPage, prepare_file
from docproc.run.time_limit import FileTimer, TimeLimitExceeded

# Long PDFs go to the workers in parts of this many pages: enough to keep each worker's
# poppler calls and the part's round trip cheap, few enough that one long PDF keeps every
# worker busy and a part's prepared pages stay small (about 100 kB a page).
PAGES_PER_PART = 16


@dataclass(frozen=True)
class Part:
    """A run of a file's pages: ``first`` to ``last`` (None: to the end), and whether it
    is the file's last part."""

    file: InputFile
    first: int = 1
    last: int | None = None
    final: bool = True


def first_part(item: InputFile, options: RunOptions) -> Part:
    """The first part of a file: the whole file, or for a PDF a short run of pages whose
    page count, brought back with it, sends out the others (``later_parts``). Not under
    a file time limit, which is the whole file's."""
    if options.file_timeout is None and item.path.is_file():
        try:
            kind = read_kind(item.path)
        except OSError:
            kind = None
        if kind == "pdf":
            return Part(item, 1, max(1, PAGES_PER_PART // 4), final=False)
    return Part(item)


def later_parts(part: Part, page_count: int) -> list[Part]:
    """The parts after a PDF's first ``part``, for a file of ``page_count`` pages."""
    assert part.last is not None
    return [Part(part.file, first, min(page_count, first + PAGES_PER_PART - 1), final=first + PAGES_PER_PART > page_count)
            for first in range(part.last + 1, page_count + 1, PAGES_PER_PART)]


def long_pdf(item: InputFile, options: RunOptions) -> bool:
    """Whether a lone file is a PDF long enough to share among workers."""
    if first_part(item, options).final:
        return False
    try:
        return pdf_page_count(item.path, options.pdf_dpi, options.max_pixels) > max(1, PAGES_PER_PART // 4)
    except (InputFileError, OSError):
        return False  # read in this process, where the same failure becomes its error row


@dataclass(frozen=True)
class PreparedPart:
    """What a worker sends back for a run of a file's pages: the prepared pages, what
    ended them early (None: nothing did), and for a PDF's first part, how many pages the
    file has."""

    pages: list[PreparedPage]
    failure: FileFailure | None = None
    page_count: int | None = None


def prepare_part(item: InputFile, options: RunOptions, first_page: int = 1,
                 last_page: int | None = None) -> PreparedPart:
    """Pages ``first_page`` to ``last_page`` (default: to the end) of a file prepared,
    under the file's time limit: what a worker process does with a part (it has its own
    main thread, so the limit works there)."""
    pages: list[PreparedPage] = []
    failure = None
    try:
        with FileTimer(options.file_timeout):
            for page in prepare_file(item, options, first_page, last_page):
                pages.append(page)
    except FileReadFailed as exc:
        failure = exc.failure
    except TimeLimitExceeded:
        failure = timed_out(pages[-1].number + 1 if pages else first_page, options.file_timeout)
    page_count = None
    if first_page == 1 and last_page is not None:
        # The caller splits long PDFs: it needs the count to send out the other parts. A
        # file that stopped short of last_page has told it already (a failure there ends
        # the file anyway); only one that reached it is asked.
        if len(pages) < last_page:
            page_count = len(pages)
        elif failure is None:
            with contextlib.suppress(InputFileError, OSError):
                page_count = pdf_page_count(item.path, options.pdf_dpi, options.max_pixels)
    return PreparedPart(pages, failure, page_count)
