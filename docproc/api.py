"""Reading scans from Python: ``docproc.read`` for one call, ``docproc.Reader`` to keep the
models loaded between calls (a service, a notebook). The rows are the results CSV's
(docs/results-csv.md), as ``FieldResult`` objects, read as ``docproc run`` reads them but
without its ledger: every call reads its inputs.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from docproc import config
from docproc.layout.templates import Template, load_template
from docproc.output.results import FieldResult
from docproc.recognize.model_files import default_model_path

if TYPE_CHECKING:
    from docproc.ingest.inputs import InputFile
    from docproc.recognize.classifier import DigitClassifier
    from docproc.run.plan import Step
    from docproc.run.summary import RunSummary

Inputs = str | PathLike[str] | Iterable[str | PathLike[str]]
# The keyword options, each with what it sets: the command line's names, with underscores.
OPTIONS = ("model", "runtime", "reader", "review_below", "pdf_dpi", "direct_pdf_scans", "split_documents", "max_megapixels",
           "file_timeout", "batch_size", "jobs", "scheduler", "root", "raise_on_error")


class _Own:
    """The reader's own template (``Reader.read``'s default)."""

    def __repr__(self) -> str:
        return "the reader's template"


OWN = _Own()


def _files(inputs: Inputs, root: Path | None) -> list[InputFile]:
    """The files ``inputs`` (a file, folder or glob, or several) name (ingest.inputs.discover)."""
    from docproc.ingest.inputs import discover

    given = [inputs] if isinstance(inputs, (str, PathLike)) else list(inputs)
    return discover([str(item) for item in given], root)


def _template(template: Template | str | PathLike[str] | None) -> Template | None:
    if template is None or isinstance(template, Template):
        return template
    return load_template(Path(template))


class Reader:
    """Reads scans with its models loaded once, on first use, and kept.

    ``template``: a template file (or a loaded ``Template``), or None to find the digit
    strings of each page. The keyword options are ``docproc run``'s, with underscores:
    ``model`` (a .keras file; default the shipped one), ``runtime`` (onnx, the default,
    or keras: what runs the models), ``reader`` (both, segment or sequence),
    ``review_below``, ``pdf_dpi``, ``direct_pdf_scans``, ``split_documents``,
    ``max_megapixels``, ``file_timeout`` (seconds, None for none), ``batch_size``,
    ``jobs`` (worker processes; default 1, this process), ``scheduler`` (a Dask
    scheduler's address, for ``run``), ``root`` (name files relative to it) and
    ``raise_on_error``. An unknown one is a TypeError that names the one meant.

    ``read`` yields rows; ``run`` is ``docproc run``: results written to a file with the
    ledger beside it, so that a rerun reads only new and changed files.
    """

    def __init__(self, template: Template | str | PathLike[str] | None = None, **options: object) -> None:
        unknown = [name for name in options if name not in OPTIONS]
        if unknown:
            near = difflib.get_close_matches(unknown[0], OPTIONS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; the options are {', '.join(OPTIONS)}"
            raise TypeError(f"docproc.Reader got an unknown option {unknown[0]!r}{hint}")
        megapixels = options.get("max_megapixels", config.MAX_PIXELS / 1e6)
        self.options = config.RunOptions(
            template=_template(template),
            pdf_dpi=int(options.get("pdf_dpi", config.PDF_DPI)),  # type: ignore[call-overload]
            review_below=float(options.get("review_below", config.REVIEW_BELOW)),  # type: ignore[arg-type]
            max_pixels=int(float(megapixels) * 1e6),  # type: ignore[arg-type]
            file_timeout=options.get("file_timeout"),  # type: ignore[arg-type]
            direct_pdf_scans=bool(options.get("direct_pdf_scans", False)),
            split_documents=bool(options.get("split_documents", False)),
            reader=str(options.get("reader", config.READER)),
            raise_on_error=bool(options.get("raise_on_error", False)))
        if self.options.reader not in config.READERS:
            raise ValueError(f"reader must be one of {', '.join(config.READERS)}, got {self.options.reader!r}")
        model = options.get("model")
        self.model = Path(model) if model is not None else None  # type: ignore[arg-type]
        self.runtime = str(options.get("runtime", config.RUNTIME))
        if self.runtime not in config.RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(config.RUNTIMES)}, got {self.runtime!r}")
        self.batch_size = int(options.get("batch_size", config.BATCH_SIZE))  # type: ignore[call-overload]
        self.jobs = int(options.get("jobs", 1))  # type: ignore[call-overload]
        root = options.get("root")
        self.root = Path(root) if root is not None else None  # type: ignore[arg-type]
        scheduler = options.get("scheduler")
        self.scheduler = str(scheduler) if scheduler is not None else None
        self._classifier: DigitClassifier | None = None

    def classifier(self) -> DigitClassifier:
        """The models, loaded on first use (ModelError when they cannot be)."""
        if self._classifier is None:
            from docproc.recognize.loading import load_classifier

            self._classifier = load_classifier(self.model, self.batch_size, sequence=self.options.reads_lines,
                                               runtime=self.runtime)
        return self._classifier

    def read(self, inputs: Inputs, template: Template | str | PathLike[str] | None | _Own = OWN
             ) -> Iterator[FieldResult]:
        """The rows of ``inputs`` (a file, folder or glob, or several), file by file in
        input order, each file's rows once it is read whole. ``template``, when given,
        is this call's instead of the reader's (None: no template). A path that does not
        exist raises MissingInputError before anything is read; a file that cannot be
        read gives its error row."""
        from docproc.run.pipeline import absent_field_rows, run_files

        options = (self.options if isinstance(template, _Own)
                   else dataclasses.replace(self.options, template=_template(template)))
        for done in run_files(_files(inputs, self.root), self.classifier, options, jobs=self.jobs):
            yield from done.rows
            yield from absent_field_rows(done, options.template, options.template_name)

    def run(self, inputs: Inputs, output: str | PathLike[str], *, ledger: str | PathLike[str] | None = None,
            force: bool = False, output_format: str | None = None, also_written: Iterable[Path] = (),
            on_page: Callable[[InputFile, int], None] | None = None,
            on_plan: Callable[[list[Step]], None] | None = None, summary: RunSummary | None = None) -> RunSummary:
        """Read ``inputs`` into ``output`` (CSV or JSON Lines, by ``output_format`` or the
        name's suffix; ``-`` for standard output) as ``docproc run`` does: what the ledger
        (``ledger``, default OUTPUT.ledger.sqlite beside it; none for standard output)
        already holds unchanged is not read again unless ``force``. Everything that cannot
        work is refused before any work: the output's format and folder (and those of
        ``also_written``), a missing input. Only one run at a time writes an output or a
        ledger (BusyError). ``on_page`` and ``on_plan`` follow the reading; the counts
        go into ``summary`` as the run goes, and are returned."""
        from docproc.output.results import STDOUT, check_writable
        from docproc.output.results import output_format as format_of
        from docproc.run.job import Readers, run_job
        from docproc.run.ledger import IN_MEMORY, Ledger, default_ledger_path
        from docproc.run.run_lock import exclusive_run
        from docproc.run.summary import RunSummary

        output = Path(output)
        form = format_of(output, output_format)
        ledger_path = Path(ledger) if ledger is not None else (
            IN_MEMORY if output == STDOUT else default_ledger_path(output))
        for path in (output, ledger_path, *also_written):
            if path != IN_MEMORY:
                check_writable(path)
        readers = Readers(self.model or default_model_path(), batch_size=self.batch_size, jobs=self.jobs,
                          scheduler=self.scheduler, sequence=self.options.reads_lines, runtime=self.runtime)
        # Before any lock, ledger or model: a path that does not exist stops the run here.
        files = _files(inputs, self.root)
        summary = summary if summary is not None else RunSummary()
        # From here to the results, this run owns the output and the ledger: a second run exits at once.
        with exclusive_run(*(p for p in (output, ledger_path) if p not in (STDOUT, IN_MEMORY))), \
                Ledger(ledger_path) as opened:
            run_job(files, self.options, opened, output, readers, force, on_page, on_plan,
                    load=self.classifier, summary=summary, output_format=form)
        return summary


def read(inputs: Inputs, template: Template | str | PathLike[str] | None = None,
         **options: object) -> Iterator[FieldResult]:
    """Read ``inputs`` once: ``Reader(template, **options).read(inputs)``. To read again
    without loading the models again, keep a ``Reader``."""
    return Reader(template, **options).read(inputs)
