"""A whole `docproc run` job over a ledger: decide which inputs need reading (plan.py),
read only those, committing each file as it completes, and write the results CSV from
the ledger.

A rerun over the same folder skips files whose size and modification time are as
recorded (and, where that is doubtful, whose SHA-256 is), reads new and changed files,
and re-reads every file when the template, the models or the reading options change.
Files with an error row are always read again: the error may have been passing (a file
still being copied, a permission since fixed). The CSV holds the rows of this run's
inputs, each file's current rows exactly once, in input order.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from docproc.config import BATCH_SIZE, RUNTIME, RunOptions
from docproc.ingest.inputs import InputFile
from docproc.output.results import FieldResult, write_results
from docproc.recognize.classifier import DigitClassifier
from docproc.recognize.loading import load_classifier
from docproc.recognize.model_files import SHIPPED_CHECK, SHIPPED_SEQUENCE, calibration_path, peers_beside
from docproc.recognize.networks import file_read
from docproc.run.fingerprint import reading_fingerprint
from docproc.run.ledger import Fingerprint, InputRecord, Ledger
from docproc.run.pipeline import FileRows, absent_field_rows, run_files
from docproc.run.plan import Step, plan
from docproc.run.summary import RunSummary

log = logging.getLogger("docproc")


@dataclass(frozen=True)
class Readers:
    """Who reads: the digit model and the single-digit check, the batch size, where the
    work runs (``jobs`` local worker processes, or a Dask cluster at ``scheduler``,
    ``local`` for one of ``jobs`` processes on this machine), and what runs the models."""

    model_path: Path
    check_path: Path = SHIPPED_CHECK
    batch_size: int = BATCH_SIZE
    jobs: int = 1
    scheduler: str | None = None
    sequence: bool = False  # the sequence reader reads too (--reader both or sequence)
    runtime: str = RUNTIME  # one of config.RUNTIMES

    def load(self) -> DigitClassifier:
        """The classifier, loaded in this process."""
        return load_classifier(self.model_path, batch_size=self.batch_size, sequence=self.sequence,
                               runtime=self.runtime)

    def model_files(self) -> list[Path]:
        """The files whose bytes decide the readings, as the runtime reads them (the ONNX
        twins, or the .keras files): the digit model, the check, the digit model's peers
        where it has them, and the sequence reader (with its calibration) when it reads."""
        peers = peers_beside(self.model_path)
        models = [self.model_path, self.check_path, *([peers] if peers is not None else []),
                  *([SHIPPED_SEQUENCE] if self.sequence else [])]
        calibration = [calibration_path(SHIPPED_SEQUENCE)] if self.sequence else []
        return [file_read(path, self.runtime) for path in models] + calibration


def _record(step: Step, done_rows: list[FieldResult], pages: int, fingerprint: Fingerprint) -> InputRecord:
    state = step.state
    return InputRecord(step.key, step.file.name, state.size if state else None, state.mtime_ns if state else None,
                       step.sha256, state.checked_ns if state else time.time_ns(), fingerprint, pages,
                       any(r.status == "error" for r in done_rows))


def _planned(files: list[InputFile], options: RunOptions, ledger: Ledger, readers: Readers,
             force: bool) -> tuple[list[Step], Fingerprint]:
    """What to do with each input, logged; the unchanged ones have their new times recorded."""
    fingerprint = reading_fingerprint(options, readers.model_files())
    steps = plan(files, ledger.records(), fingerprint, force)
    to_read = [s for s in steps if s.action == "read"]
    reasons = Counter(s.reason for s in to_read)
    log.info("%d of %d files to read%s", len(to_read), len(steps),
             f" ({', '.join(f'{n} {why}' for why, n in reasons.most_common())})" if to_read else "")
    for step in steps:
        if step.action == "skip" and step.state is not None:
            ledger.restat(step.key, step.state.size, step.state.mtime_ns, step.state.checked_ns)
    return steps, fingerprint


def _read(files: list[InputFile], options: RunOptions, readers: Readers,
          on_page: Callable[[InputFile, int], None], load: Callable[[], DigitClassifier]) -> Iterator[FileRows]:
    """Each file's rows as it completes, read here and by worker processes, or on Dask."""
    if readers.scheduler is not None:
        from docproc.run.cluster import run_files_on_cluster

        return run_files_on_cluster(files, options, readers.scheduler, [readers.model_path, readers.check_path],
                                    readers.batch_size, readers.jobs, on_page, readers.runtime)
    # Loaded by run_files once its workers have their first files: they start meanwhile.
    return run_files(files, load, options, on_page, readers.jobs)


def _commit_as_read(to_read: list[Step], options: RunOptions, ledger: Ledger, readers: Readers,
                    fingerprint: Fingerprint, summary: RunSummary, on_page: Callable[[InputFile, int], None] | None,
                    load: Callable[[], DigitClassifier]) -> None:
    """Read the files of ``to_read``, committing each to the ledger once all its rows exist."""
    by_file = {id(s.file): s for s in to_read}

    def page_read(item: InputFile, number: int) -> None:
        # Read is not yet kept: the log says a file is done only once it is committed.
        log.debug("%s page %d: read", item.path.absolute(), number)
        if on_page is not None:
            on_page(item, number)

    for done in _read([s.file for s in to_read], options, readers, page_read, load):
        step = by_file[id(done.file)]
        done = dataclasses.replace(done, rows=done.rows + absent_field_rows(done, options.template,
                                                                            options.template_name))
        ledger.commit(_record(step, done.rows, done.pages, fingerprint), done.rows)
        summary.pages += done.pages
        # Absolute paths: a cron mail or a log read later must say where the file is.
        where = done.file.path.absolute()
        log.info("%s: committed, %d pages, %d rows", where, done.pages, len(done.rows))
        for row in done.rows:
            if row.status == "error":
                log.warning("%s page %d: %s", where, row.page, row.error)


def _rows_from_ledger(ledger: Ledger, steps: list[Step]) -> list[FieldResult]:
    """The current rows of this run's inputs, in input order, each named as given this time."""
    recorded = ledger.rows([s.key for s in steps])
    return [dataclasses.replace(row, file=step.file.name) for step in steps for row in recorded[step.key]]


def run_job(files: list[InputFile], options: RunOptions, ledger: Ledger, output: Path, readers: Readers,
            force: bool = False, on_page: Callable[[InputFile, int], None] | None = None,
            on_plan: Callable[[list[Step]], None] | None = None,
            load: Callable[[], DigitClassifier] | None = None, summary: RunSummary | None = None,
            output_format: str = "csv") -> RunSummary:
    """Read what the ledger does not already hold, commit each file as it completes, and
    write ``output`` (in ``output_format``; ``-`` for standard output) from the ledger.
    The classifier (``load``, default ``readers.load``) is loaded only when some file
    needs reading, and never for a Dask cluster, whose workers load their own. The counts
    go into ``summary`` (a new one by default) as the run goes, so a caller whose run
    stops early still has the counts so far."""
    started = time.perf_counter()
    summary = summary if summary is not None else RunSummary()
    summary.files = len(files)
    steps, fingerprint = _planned(files, options, ledger, readers, force)
    if on_plan is not None:
        on_plan(steps)
    to_read = [s for s in steps if s.action == "read"]
    summary.files_read = len(to_read)
    if to_read:
        _commit_as_read(to_read, options, ledger, readers, fingerprint, summary, on_page, load or readers.load)
    rows = _rows_from_ledger(ledger, steps)
    write_results(rows, output, output_format, fix="every file read is committed to the ledger, so once there is "
                                                    "room a rerun writes the results without reading them again")
    summary.count(rows)
    summary.seconds = time.perf_counter() - started
    return summary
