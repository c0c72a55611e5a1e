"""The run: files -> prepared pages (prepare.py) -> classify in batches -> decode -> rows.

The CPU stages of each file run here one page at a time, or with ``jobs`` > 1 in a pool
of worker processes (workers.py) while this process classifies their crops in batches
gathered across fields, pages and files. Either way files come out complete and in
input order, with the same rows: the rows do not depend on the batch size or the number
of workers. A file that cannot be read on gets an ``error`` row (failures.py) and the
run goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from docproc.config import RunOptions
from docproc.errors import ModelError
from docproc.glyphs.normalize import SIZE
from docproc.ingest.inputs import InputFile
from docproc.layout.templates import Template, page_list
from docproc.output.results import FieldDetail, FieldResult
from docproc.recognize.agreement import decide_both, decide_sequence
from docproc.recognize.classifier import DigitClassifier
from docproc.recognize.decode import Reading, decode_field
from docproc.recognize.field_reading import field_readings, piece_owners, read_needed
from docproc.recognize.judgement import Decoded
from docproc.run.failures import FileFailure, FileReadFailed, internal_error, timed_out
from docproc.run.native_memory import keep_freed_memory
from docproc.run.parts import long_pdf
from docproc.run.prepare import PreparedField, PreparedPage, prepare_file
from docproc.run.summary import RunSummary
from docproc.run.time_limit import FileTimer, TimeLimitExceeded
from docproc.run.workers import WorkerFeed, start_pool

log = logging.getLogger("docproc")


@dataclass(frozen=True)
class FileRows:
    """Everything one file gave: its rows in page order, and how many pages were read."""

    file: InputFile
    rows: list[FieldResult]
    pages: int


def absent_field_rows(done: FileRows, template: Template | None, template_name: str) -> list[FieldResult]:
    """A review row for each of the template's fields that is on none of the pages ``done``
    read (a field on page 2 of a one-page scan), so that no field the template asks for
    is left out of the results unsaid. None for a file that stopped on an error: its
    error row says why the rest is missing."""
    if template is None or any(row.status == "error" for row in done.rows):
        return []
    rows = []
    for spec in template.fields:
        if spec.pages is not None and not any(spec.on_page(n) for n in range(1, done.pages + 1)):
            first = spec.pages[0][0]
            rows.append(FieldResult(done.file.name, first, template_name, spec.name, status="review",
                                    reason=f"the document has {done.pages} page{'s' if done.pages != 1 else ''}; "
                                           f"the template's field is on page {page_list(spec.pages)}"))
    return rows


@dataclass(frozen=True)
class _PageWork:
    file: InputFile
    page: PreparedPage
    first_crop: int


@dataclass(frozen=True)
class _FileEnd:
    # Marks, in the pending list, where a file's last page was queued, and what ended it early.
    file: InputFile
    pages: int
    failure: FileFailure | None


class _Batcher:
    """Gathers prepared pages until a batch of crops is full, then classifies and decodes
    them; hands each file's rows out once the file's end has been decoded."""

    def __init__(self, classifier: DigitClassifier, options: RunOptions) -> None:
        if options.reads_lines and (classifier.sequence is None or classifier.sequence.calibration is None):
            raise ModelError(f"--reader {options.reader} needs the sequence reader and its calibration: load the "
                             "classifier with load_classifier(..., sequence=True).")
        self.classifier, self.options = classifier, options
        self.pending: list[_PageWork | _FileEnd] = []
        self.crops: list[np.ndarray] = []
        self.crop_count = 0
        self.open_rows: list[FieldResult] = []  # the file whose end is not flushed yet; it spans flushes
        self.open_pages = 0  # pages added since the last file's end

    @property
    def full(self) -> bool:
        return self.crop_count >= self.classifier.batch_size

    def add_page(self, item: InputFile, page: PreparedPage) -> None:
        self.pending.append(_PageWork(item, page, self.crop_count))
        self.open_pages += 1
        for prepared in page.fields:
            self.crops.append(prepared.crops)
            self.crop_count += len(prepared.crops)

    def end_file(self, item: InputFile, failure: FileFailure | None) -> None:
        self.pending.append(_FileEnd(item, self.open_pages, failure))
        self.open_pages = 0

    def flush(self) -> Iterator[FileRows]:
        batch = np.concatenate(self.crops) if self.crops else np.empty((0, SIZE, SIZE), np.float32)
        layouts = [prepared.layout for entry in self.pending if isinstance(entry, _PageWork)
                   for prepared in entry.page.fields]
        readings = read_needed(self.classifier, batch, piece_owners(layouts))
        columns = self._sequence_columns()
        for entry in self.pending:
            if isinstance(entry, _FileEnd):
                if entry.failure is not None:
                    _log_traceback(entry.file, entry.failure)
                    self.open_rows.append(entry.failure.row(entry.file, self.options.template_name))
                yield FileRows(entry.file, list(self.open_rows), entry.pages)
                self.open_rows.clear()
            else:
                self.open_rows.extend(self._page_rows(entry, readings.probabilities, readings.singles, columns))
        self.pending.clear()
        self.crops.clear()
        self.crop_count = 0

    def _sequence_columns(self) -> Iterator[np.ndarray]:
        """The sequence reader's column probabilities of the batch's fields, in field order
        (nothing when the run reads with the segmentation alone)."""
        if not self.options.reads_lines:
            return iter(())
        assert self.classifier.sequence is not None  # run_files checks it
        lines = [prepared.line for entry in self.pending if isinstance(entry, _PageWork)
                 for prepared in entry.page.fields]
        return iter(self.classifier.sequence.read([line for line in lines if line is not None]))

    def _page_rows(self, work: _PageWork, probabilities: np.ndarray, singles: np.ndarray | None,
                   columns: Iterator[np.ndarray]) -> list[FieldResult]:
        """The page's rows; a page whose decoding fails unexpectedly is one error row."""
        mine = [next(columns) for _ in work.page.fields] if self.options.reads_lines else []
        try:
            return self._decoded_rows(work, probabilities, singles, mine)
        except Exception as exc:  # a bug in decoding: this page's error row, not the run's end
            if self.options.raise_on_error:
                raise
            failure = internal_error(work.page.number, exc)
            _log_traceback(work.file, failure)
            return [failure.row(work.file, self.options.template_name)]

    def _decoded_rows(self, work: _PageWork, probabilities: np.ndarray, singles: np.ndarray | None,
                      columns: list[np.ndarray]) -> list[FieldResult]:
        rows, at = [], work.first_crop
        options = self.options
        for doubt in dict.fromkeys(f.doubt for f in work.page.fields if f.doubt):
            log.warning("%s page %d: %s; its fields are marked review", work.file.path.absolute(), work.page.number,
                        doubt)
        for index, prepared in enumerate(work.page.fields):
            end = at + len(prepared.crops)
            readings = field_readings(prepared.layout, probabilities[at:end],
                                      None if singles is None else singles[at:end])
            at = end
            decoded = self._decided(prepared, readings, columns[index] if columns else None)
            rows.append(FieldResult(work.file.name, work.page.number, options.template_name, prepared.name,
                                    decoded.text, decoded.confidence, decoded.digit_confidences, decoded.status, "",
                                    prepared.box, decoded.marks, prepared.part, decoded.reason, decoded.value,
                                    FieldDetail(work.page.size, work.page.dpi, decoded.digit_boxes,
                                                tuple((a.text, a.marks, a.probability, a.reader)
                                                      for a in decoded.alternatives))))
        return rows


    def _decided(self, prepared: PreparedField, readings: list[Reading], columns: np.ndarray | None) -> Decoded:
        """One field's reading by the run's readers (RunOptions.reader)."""
        options = self.options
        segmented = None
        if options.reader != "sequence":
            segmented = decode_field(readings, prepared.spec, options.review_below, prepared.doubt)
        if options.reader == "segment":
            return segmented
        sequence = self.classifier.sequence
        assert columns is not None and sequence is not None and sequence.calibration is not None
        blank = not readings  # no glyph: no writing in the box
        if segmented is None:
            return decide_sequence(columns, prepared.spec, sequence.calibration, options.review_below, prepared.doubt,
                                   blank)
        return decide_both(segmented, readings, columns, prepared.spec, sequence.calibration, options.review_below,
                           prepared.doubt, blank)[0]


def _log_traceback(item: InputFile, failure: FileFailure) -> None:
    # The row says what happened; the traceback is for the report it asks for.
    if failure.traceback:
        log.info("%s page %d: traceback of the internal error:\n%s", item.path.absolute(), failure.page,
                 failure.traceback.rstrip())


def _prepared_here(files: list[InputFile], batcher: _Batcher, options: RunOptions,
                   on_page: Callable[[InputFile, int], None] | None) -> Iterator[FileRows]:
    for item in files:
        timer = FileTimer(options.file_timeout)
        next_page = 1
        failure = None
        try:
            with timer:
                for page in prepare_file(item, options):
                    batcher.add_page(item, page)
                    next_page = page.number + 1
                    if on_page is not None:
                        on_page(item, page.number)
                    if batcher.full:
                        # The batch holds other files' crops too: its time is not this file's.
                        with timer.paused():
                            yield from batcher.flush()
        except FileReadFailed as exc:
            failure = exc.failure
        except TimeLimitExceeded:
            failure = timed_out(next_page, options.file_timeout)
        batcher.end_file(item, failure)
    yield from batcher.flush()


def _prepared_by_workers(feed: WorkerFeed, batcher: _Batcher,
                         on_page: Callable[[InputFile, int], None] | None) -> Iterator[FileRows]:
    for part in feed:
        for page in part.pages:
            batcher.add_page(part.file, page)
            if on_page is not None:
                on_page(part.file, page.number)
        if part.file_done:
            batcher.end_file(part.file, part.failure)
        if batcher.full:
            yield from batcher.flush()
    yield from batcher.flush()


def _loaded(classifier: DigitClassifier | Callable[[], DigitClassifier]) -> DigitClassifier:
    return classifier if isinstance(classifier, DigitClassifier) else classifier()


def run_files(files: list[InputFile], classifier: DigitClassifier | Callable[[], DigitClassifier],
              options: RunOptions, on_page: Callable[[InputFile, int], None] | None = None,
              jobs: int = 1) -> Iterator[FileRows]:
    """Read every file; yield each file's rows, complete, in input order, classifying in
    batches gathered across files. With ``jobs`` > 1 the CPU stages run in that many
    worker processes, and with a file time limit in at least one, which can be killed when
    a file is stuck where no timer in it can stop it. A file is yielded only once all its
    rows exist, so a caller can commit it whole. ``classifier`` may be a function that
    loads it: it is then called once the workers have their first files, so they start
    while it loads."""
    keep_freed_memory()
    pool = None
    shared = jobs > 1 and (len(files) > 1 or (files and long_pdf(files[0], options)))
    if shared or (files and options.file_timeout is not None):
        try:
            pool = start_pool(jobs)
        except (OSError, NotImplementedError) as exc:
            # Some containers have no shared memory for the pool's semaphores: slower, not broken.
            log.warning("cannot start worker processes (%s); reading in this process only", exc)
    if pool is None:
        yield from _prepared_here(files, _Batcher(_loaded(classifier), options), options, on_page)
        return
    feed = WorkerFeed(files, jobs, options, pool)
    feed.start()
    try:
        batcher = _Batcher(_loaded(classifier), options)
    except BaseException:
        pool.stop()  # a model that will not load ends the run
        pool.join()
        raise
    yield from _prepared_by_workers(feed, batcher, on_page)


def run(files: list[InputFile], classifier: DigitClassifier, options: RunOptions,
        on_page: Callable[[InputFile, int], None] | None = None, jobs: int = 1) -> Iterator[FieldResult]:
    """Read every file; yield result rows in input order, classifying in batches."""
    for done in run_files(files, classifier, options, on_page, jobs):
        yield from done.rows


def run_all(files: list[InputFile], classifier: DigitClassifier, options: RunOptions,
            on_page: Callable[[InputFile, int], None] | None = None, jobs: int = 1,
            ) -> tuple[list[FieldResult], RunSummary]:
    """Run and collect every row with a summary of the counts."""
    started = time.perf_counter()
    summary = RunSummary(files=len(files))
    rows: list[FieldResult] = []

    def count_page(item: InputFile, number: int) -> None:
        summary.pages += 1
        log.info("%s page %d: read", item.path.absolute(), number)
        if on_page is not None:
            on_page(item, number)

    for done in run_files(files, classifier, options, count_page, jobs):
        rows.extend(done.rows)
        for row in done.rows:
            if row.status == "error":
                log.warning("%s page %d: %s", done.file.path.absolute(), row.page, row.error)
    summary.count(rows)
    summary.seconds = time.perf_counter() - started
    return rows, summary
