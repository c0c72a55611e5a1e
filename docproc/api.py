"""Reading scans from Python: ``docproc.read`` for one call, ``docproc.Reader`` to keep the
models loaded between calls (a service, a notebook). The rows are the results CSV's
(docs/results-csv.md), as ``FieldResult`` objects, read as ``docproc run`` reads them but
without its ledger: every call reads its inputs.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from docproc import config
from docproc.layout.templates import Template, load_template
from docproc.output.results import FieldResult

if TYPE_CHECKING:
    from docproc.recognize.classifier import DigitClassifier

Inputs = str | PathLike[str] | Iterable[str | PathLike[str]]
# The keyword options, each with what it sets: the command line's names, with underscores.
OPTIONS = ("model", "reader", "review_below", "pdf_dpi", "direct_pdf_scans", "split_documents", "max_megapixels",
           "file_timeout", "batch_size", "jobs", "root", "raise_on_error")


class _Own:
    """The reader's own template (``Reader.read``'s default)."""

    def __repr__(self) -> str:
        return "the reader's template"


OWN = _Own()


def _template(template: Template | str | PathLike[str] | None) -> Template | None:
    if template is None or isinstance(template, Template):
        return template
    return load_template(Path(template))


class Reader:
    """Reads scans with its models loaded once, on first use, and kept.

    ``template``: a template file (or a loaded ``Template``), or None to find the digit
    strings of each page. The keyword options are ``docproc run``'s, with underscores:
    ``model`` (a .keras file; default the shipped one), ``reader`` (both, segment or
    sequence), ``review_below``, ``pdf_dpi``, ``direct_pdf_scans``, ``split_documents``,
    ``max_megapixels``, ``file_timeout`` (seconds, None for none), ``batch_size``, ``jobs``
    (worker processes; default 1, this process), ``root`` (name files relative to it) and
    ``raise_on_error``. An unknown one is a TypeError that names the one meant.
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
        self.batch_size = int(options.get("batch_size", config.BATCH_SIZE))  # type: ignore[call-overload]
        self.jobs = int(options.get("jobs", 1))  # type: ignore[call-overload]
        root = options.get("root")
        self.root = Path(root) if root is not None else None  # type: ignore[arg-type]
        self._classifier: DigitClassifier | None = None

    def classifier(self) -> DigitClassifier:
        """The models, loaded on first use (ModelError when they cannot be)."""
        if self._classifier is None:
            from docproc.recognize.loading import load_classifier

            self._classifier = load_classifier(self.model, self.batch_size, sequence=self.options.reads_lines)
        return self._classifier

    def read(self, inputs: Inputs, template: Template | str | PathLike[str] | None | _Own = OWN
             ) -> Iterator[FieldResult]:
        """The rows of ``inputs`` (a file, folder or glob, or several), file by file in
        input order, each file's rows once it is read whole. ``template``, when given,
        is this call's instead of the reader's (None: no template). A path that does not
        exist raises MissingInputError before anything is read; a file that cannot be
        read gives its error row."""
        from docproc.ingest.inputs import discover
        from docproc.run.pipeline import absent_field_rows, run_files

        given = [inputs] if isinstance(inputs, (str, PathLike)) else list(inputs)
        options = (self.options if isinstance(template, _Own)
                   else dataclasses.replace(self.options, template=_template(template)))
        files = discover([str(item) for item in given], self.root)
        for done in run_files(files, self.classifier, options, jobs=self.jobs):
            yield from done.rows
            yield from absent_field_rows(done, options.template, options.template_name)


def read(inputs: Inputs, template: Template | str | PathLike[str] | None = None,
         **options: object) -> Iterator[FieldResult]:
    """Read ``inputs`` once: ``Reader(template, **options).read(inputs)``. To read again
    without loading the models again, keep a ``Reader``."""
    return Reader(template, **options).read(inputs)
