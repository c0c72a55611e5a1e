"""The ``docproc`` command line: parses options, calls library functions, maps errors to exit codes."""

from __future__ import annotations

import datetime
import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from docproc import __version__, config
from docproc.errors import DocprocError, InputFileError, MissingInputError, OutputError
from docproc.ingest.inputs import IMAGE_SUFFIXES
from docproc.output.results import FORMATS
from docproc.run.native_memory import keep_freed_memory

if TYPE_CHECKING:
    from docproc.ingest.inputs import InputFile
    from docproc.run.plan import Step
    from docproc.run.summary import RunSummary

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn a DocprocError into its message on stderr and its exit code, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DocprocError as exc:
            click.echo(f"docproc: error: {exc.message}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


# Every option can come from the environment: DOCPROC_<COMMAND>_<OPTION>, such as
# DOCPROC_RUN_REVIEW_BELOW=0.95 (Click's auto_envvar_prefix); --model from DOCPROC_MODEL.
ENV_PREFIX = "DOCPROC"
# The sections of a command's --help, in order; an option names its own (``section=``).
SECTIONS = ("Input", "Reading", "Output", "Job control", "Station", "Messages")


class SectionedOption(click.Option):
    """An option that says which section of --help it belongs in."""

    def __init__(self, *args: Any, section: str = "Other options", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


class SectionedCommand(click.Command):
    """A command whose --help lists its options in sections (input, reading, output, job
    control, messages), as OCRmyPDF and kraken do."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The environment variable of an option is named for its long option, as the user
        # knows it (DOCPROC_RUN_TEMPLATE for --template), not for the Python parameter
        # behind it, which Click's auto_envvar_prefix would use.
        if ctx.auto_envvar_prefix:
            for param in self.params:
                long = next((o for o in getattr(param, "opts", []) if o.startswith("--")), None)
                if isinstance(param, click.Option) and param.envvar is None and long is not None and not param.is_eager:
                    param.envvar = f"{ctx.auto_envvar_prefix}_{long[2:].replace('-', '_').upper()}"
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                sections.setdefault(getattr(param, "section", "Other options"), []).append(record)
        for title in [*SECTIONS, *(t for t in sections if t not in SECTIONS)]:
            if title in sections:
                with formatter.section(title):
                    formatter.write_dl(sections[title])


class DocprocGroup(click.Group):
    """The ``docproc`` group: usage errors read like docproc's other errors
    (``docproc: error: ...``, exit 2), and commands are sectioned."""

    command_class = SectionedCommand
    group_class = type  # subgroups (docproc template) are DocprocGroups too

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        extra.setdefault("auto_envvar_prefix", ENV_PREFIX)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name or "docproc", complete_var, False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"docproc: error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"docproc: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("docproc: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def option(*declarations: str, section: str, **kwargs: Any) -> Callable[[F], F]:
    """``click.option`` in a section of --help."""
    return click.option(*declarations, cls=SectionedOption, section=section, **kwargs)


def _counts(ctx: click.Context) -> dict[str, Any]:
    """The -v count and -q flag of this command line, wherever they were given."""
    return ctx.find_root().meta.setdefault("docproc.verbosity", {"verbose": 0, "quiet": False})


def _verbosity(ctx: click.Context) -> None:
    """Set the log level from -v and -q, given before the command or after it (or both)."""
    counts = _counts(ctx)
    level = (logging.ERROR if counts["quiet"] else logging.WARNING if counts["verbose"] == 0
             else logging.INFO if counts["verbose"] == 1 else logging.DEBUG)
    logging.getLogger().setLevel(level)


def _more_verbose(ctx: click.Context, _: click.Parameter, value: int) -> int:
    _counts(ctx)["verbose"] += value
    _verbosity(ctx)
    return value


def _quieter(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
    if value:
        _counts(ctx)["quiet"] = True
        _verbosity(ctx)
    return value


VERBOSE_HELP = "More detail on stderr (-v: progress, -vv: debug, incl. backend start-up)."
QUIET_HELP = "Errors only on stderr: no warnings, no progress bar, no summary line."


def verbosity(command: F) -> F:
    """-v and -q on a command, as on ``docproc`` itself (either place works)."""
    command = option("-q", "--quiet", is_flag=True, help=QUIET_HELP, section="Messages", callback=_quieter,
                     expose_value=False)(command)
    return option("-v", "--verbose", count=True, help=VERBOSE_HELP, section="Messages", callback=_more_verbose,
                  expose_value=False)(command)


def quiet_asked() -> bool:
    """Whether -q was given, before the command or after it."""
    return bool(_counts(click.get_current_context())["quiet"])


model_option = option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="DOCPROC_MODEL",
    show_envvar=True,
    section="Reading",
    help="Keras model file, read through its ONNX twin beside it (default: the shipped docproc/models/digits-cnn.keras).",
)
runtime_option = option(
    "--runtime", type=click.Choice(config.RUNTIMES), default=config.RUNTIME, show_default=True, section="Reading",
    help="What runs the models: 'onnx' runs their exported twins on ONNX Runtime; 'keras' runs the .keras files "
         "on Keras and TensorFlow (pip install 'docproc[train]'), as training does.",
)


@click.group(cls=DocprocGroup)
@click.version_option(__version__, prog_name="docproc")
@click.option("-v", "--verbose", count=True, expose_value=False, callback=_more_verbose, help=VERBOSE_HELP)
@click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_quieter, help=QUIET_HELP)
def main() -> None:
    """Read handwritten digits off scanned documents.

    Every option can also be set in the environment, as DOCPROC_<COMMAND>_<OPTION>
    (DOCPROC_RUN_REVIEW_BELOW=0.95, DOCPROC_RUN_JOBS=4); --model as DOCPROC_MODEL.
    """
    logging.basicConfig(format="docproc: %(levelname)s: %(message)s", stream=sys.stderr)
    _verbosity(click.get_current_context())
    keep_freed_memory()  # before any model loads: see native_memory


def _log_to_file(path: Path) -> None:
    """Send docproc's log (at least INFO: pages read, error rows) to ``path`` as well."""
    from docproc.run.log_file import LogFile

    try:
        handler = LogFile(str(path))
    except OSError as exc:
        raise OutputError(f"cannot open log file {path}: {exc.strerror or exc}; choose another --log-file") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s docproc %(levelname)s %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("docproc")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        # The file wants INFO; stderr keeps its own -v level through the root handler.
        logger.setLevel(logging.INFO)
        for root_handler in logging.getLogger().handlers:
            root_handler.setLevel(logging.getLogger().level)


@main.command("model")
@model_option
@click.option("--json", "as_json", is_flag=True,
              help="Print the digit model's whole card as JSON (its peers' and the single-digit check's cards "
                   "are the .json files beside them).")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Instead, audit the model on the MNIST test split and write report.html, metrics.json and plots here "
                   "(needs the audit extra).")
@click.option("--target-error", type=click.FloatRange(0.0, 1.0), default=config.TARGET_ERROR, show_default=True,
              help="With --report: error rate among accepted digits to find the review threshold for.")
@click.option("--gallery", type=click.IntRange(min=0), default=config.GALLERY, show_default=True,
              help="With --report: how many of the most confident mistakes to show.")
@verbosity
@reports_errors
def model_command(model_path: Path | None, as_json: bool, report_dir: Path | None, target_error: float,
                  gallery: int) -> None:
    """Print the model card (test accuracy, calibration, per-digit scores, provenance) and
    what reads with the model (its peers, the single-digit check), or with --report, audit
    the model on the MNIST test split."""
    if report_dir is not None:
        from docproc.audit import require_audit_parts

        require_audit_parts("docproc model --report")  # before model_audit, whose imports need them
        from docproc.audit.model_audit import audit_model

        page, figures = audit_model(model_path, report_dir, target_error, gallery)
        overall = figures["overall"]
        click.echo(f"docproc: {overall['digits']} test digits, {overall['accuracy']:.2%} right "
                   f"({overall['errors']} errors) -> {page}", err=True)
        return
    from docproc.recognize.cards import format_card, format_companions, read_card

    card = read_card(model_path)
    click.echo(json.dumps(card, indent=2) if as_json else format_card(card) + "\n" + format_companions(model_path))


def _expand_images(inputs: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif item.exists():
            files.append(item)
        else:
            raise MissingInputError(f"{item} does not exist. Give image files or folders of them.")
    if not files:
        raise InputFileError("No image files found in the given inputs (looked for " + ", ".join(sorted(IMAGE_SUFFIXES)) + ").")
    return files


@main.command("classify")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option
@runtime_option
@verbosity
@reports_errors
def classify_command(inputs: tuple[Path, ...], model_path: Path | None, runtime: str) -> None:
    """Classify single-digit crop images (files or folders); prints file, digit, confidence.

    With a model that knows marks, a crop it reads as no digit prints the mark (or
    'stroke') in place of the digit.

    Unreadable files are reported on their own line and the rest are still classified;
    the exit status is then 3.
    """
    import numpy as np

    from docproc.glyphs.normalize import normalize_glyph
    from docproc.ingest.crop_files import ink_from_grey, load_grey
    from docproc.recognize.classes import CLASSES
    from docproc.recognize.loading import load_classifier

    files = _expand_images(inputs)
    classifier = load_classifier(model_path, sequence=False, runtime=runtime)  # crops, one digit each: no lines
    digits, readable, failures = [], [], 0
    for path in files:
        try:
            digits.append(normalize_glyph(ink_from_grey(load_grey(path))))
            readable.append(path)
        except InputFileError as exc:
            failures += 1
            click.echo(f"{path}\terror\t{exc.message}")
    if digits:
        probabilities = classifier.read(np.stack(digits)).probabilities
        for path, row in zip(readable, probabilities):
            click.echo(f"{path}\t{CLASSES[int(row.argmax())]}\t{float(row.max()):.4f}")
    if failures:
        sys.exit(InputFileError.exit_code)


@main.command("run")
@click.argument("inputs", nargs=-1, required=True)
@option("--template", "template_path", type=click.Path(path_type=Path, dir_okay=False), default=None, section="Input",
        help="Field template (YAML). Without one, digit strings are found on each page.")
@option("--root", type=click.Path(path_type=Path, file_okay=False), default=None, section="Input",
        help="Name files in the CSV relative to this folder (default: each input's own folder).")
@option("--pdf-dpi", type=click.IntRange(50, 600), default=config.PDF_DPI, show_default=True, section="Input",
        help="Resolution to render PDF pages at.")
@option("--direct-pdf-scans", is_flag=True, section="Input",
        help="Take PDF pages that are bare scans (one JPEG over the whole page) straight from their JPEG "
             "instead of rendering them: about twice as fast on scanned PDFs, with pixels that differ from "
             "poppler's by a grey level or two (see the README).")
@option("--split-documents", is_flag=True, section="Input",
        help="Read each document on a scan of several (cheques laid side by side on a flatbed) as its own "
             "part of the page: the CSV's part column numbers them from 1, rows from the top, each row from "
             "the left. Without it, only the largest is read with a template, in review.")
@option("--max-megapixels", "--max-pixels", "max_megapixels", type=click.FloatRange(min=0.01),
        default=config.MAX_PIXELS / 1e6, show_default=True, section="Input",
        help="Largest page in megapixels; bigger ones get an error row before decoding (decompression bombs). "
             "--max-pixels is its old name.")
@model_option
@runtime_option
@option("--reader", type=click.Choice(config.READERS), default=config.READER, show_default=True, section="Reading",
        help="Who reads each field: 'segment' cuts it into glyphs and classifies each; 'sequence' reads the "
             "whole field at once (a CTC sequence model); 'both' reads it both ways, and a field the two "
             "disagree on goes to review unless the joint evidence is strong.")
@option("--review-below", type=click.FloatRange(0.0, 1.0), default=config.REVIEW_BELOW, show_default=True,
        section="Reading", help="Fields whose confidence is under this are marked 'review' (a template's field "
                                "may set its own).")
@option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), required=True,
        section="Output", help="Results file to write (atomically: an old file stays whole until the new one is "
                               "complete), or - for standard output.")
@option("--format", "output_format", type=click.Choice(FORMATS), default=None, section="Output",
        help="csv (docs/results-csv.md) or jsonl (JSON Lines with digit boxes, page size and resolution, and the "
             "readers' n best readings: docs/results-jsonl.md); default: from the output's suffix, else csv.")
@option("--ledger", "ledger_path", type=click.Path(path_type=Path, dir_okay=False), default=None, section="Output",
        help="SQLite run ledger: what each file gave, so a rerun reads only new and changed files "
             "(default: OUTPUT.ledger.sqlite beside the output; with -o -, none: every file is read).")
@option("--force", is_flag=True, section="Output",
        help="Read every file again, even those the ledger holds unchanged.")
@option("--summary-json", type=click.Path(path_type=Path, dir_okay=False), default=None, section="Output",
        help="Write the run's exit status, what set it, its start and end times and its counts as JSON "
             "here, however it ends (for monitoring).")
@option("--log-file", type=click.Path(path_type=Path, dir_okay=False), default=None, section="Output",
        help="Also log to this file (appended, with times): every page read and every error row.")
@option("-j", "--jobs", type=click.IntRange(min=1), default=None, section="Job control",
        help="Worker processes for the CPU stages (default: the cores this process may use); "
             "results do not depend on it.")
@option("--batch-size", type=click.IntRange(min=1), default=config.BATCH_SIZE, show_default=True,
        section="Job control", help="Crops gathered across fields, pages and files before they are classified; "
                                    "results do not depend on it.")
@option("--file-timeout", type=click.FloatRange(min=0.0), default=0.0, show_default=True, section="Job control",
        help="Seconds of work allowed per file (0: no limit); a file over it gets an error row and the run goes on. "
             "Files are then read in worker processes, so one stuck inside a decoder is killed too.")
@option("--scheduler", default=None, metavar="ADDRESS", section="Job control",
        help="Read on a Dask cluster: its scheduler's address (tcp://HOST:8786), or 'local' for a cluster of "
             "--jobs processes here. Workers must see the scans at the same paths.")
@option("--raise-on-error", is_flag=True, section="Job control",
        help="Stop at the first internal error with its traceback, instead of giving the file an error row "
             "and going on (for debugging).")
@verbosity
@reports_errors
def run_command(inputs: tuple[str, ...], output: Path, template_path: Path | None, model_path: Path | None,
                runtime: str, root: Path | None, pdf_dpi: int, direct_pdf_scans: bool, split_documents: bool, reader: str,
                file_timeout: float, max_megapixels: float, batch_size: int, jobs: int | None, scheduler: str | None,
                raise_on_error: bool, review_below: float, ledger_path: Path | None, force: bool,
                log_file: Path | None, summary_json: Path | None, output_format: str | None) -> None:
    """Read the digit fields of scans (PDF, PNG, JPEG, BMP, TIFF; files, folders, globs) into a CSV.

    A rerun with the same output reads only files that are new or changed since (the
    ledger remembers the rest), so it can run from cron over a folder that grows; a run
    killed at any point loses only the file it was reading.

    Exit status: 0 when every file was read, 3 when some could not be (their rows say
    why), and the codes in docs/exit-codes.md for errors that stop the run before it starts.
    """
    from docproc.run.stop_signals import INTERRUPTED_EXIT, TERMINATED_EXIT, Terminated, sigterm_unwinds
    from docproc.run.summary import RunSummary

    started = datetime.datetime.now().astimezone()
    quiet = quiet_asked()
    summary = RunSummary()
    exit_code, error = 1, "stopped by an unexpected error (a bug: the traceback is on stderr)"
    try:
        with sigterm_unwinds():
            if log_file is not None:
                _log_to_file(log_file)
            _read_scans(inputs, output, template_path, model_path, root, ledger_path, force, quiet, summary_json,
                        summary, {"pdf_dpi": pdf_dpi, "review_below": review_below, "max_megapixels": max_megapixels,
                                  "file_timeout": file_timeout or None, "direct_pdf_scans": direct_pdf_scans,
                                  "split_documents": split_documents, "reader": reader, "runtime": runtime,
                                  "raise_on_error": raise_on_error},
                        batch_size, jobs, scheduler, output_format)
        exit_code = InputFileError.exit_code if summary.failed_files else 0
        error = f"{summary.failed_files} files could not be read (their rows say why)" if exit_code else None
    except DocprocError as exc:
        exit_code, error = exc.exit_code, exc.message
        raise
    except (KeyboardInterrupt, Terminated) as exc:
        # The shell's codes for SIGINT and SIGTERM (128 + the signal), and one line, not a
        # traceback: nothing is wrong with docproc.
        how = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else "terminated (SIGTERM)"
        exit_code = INTERRUPTED_EXIT if isinstance(exc, KeyboardInterrupt) else TERMINATED_EXIT
        error = f"{how}: the files committed so far ({summary.pages} pages) are kept in the ledger; rerun to finish"
        click.echo(f"docproc: {error}", err=True)
    finally:
        _report_end(summary, summary_json, output, exit_code, error, started)
    if exit_code:
        sys.exit(exit_code)


def _read_scans(inputs: tuple[str, ...], output: Path, template_path: Path | None, model_path: Path | None,
                root: Path | None, ledger_path: Path | None, force: bool, quiet: bool, summary_json: Path | None,
                summary: RunSummary, options: dict[str, Any], batch_size: int, jobs: int | None,
                scheduler: str | None, output_format: str | None) -> None:
    """The run itself, as the Python API runs it (docproc.api.Reader.run), with a progress
    bar and the summary line."""
    from docproc.api import Reader
    from docproc.output.results import STDOUT

    reader = Reader(template_path, model=model_path, root=root, batch_size=batch_size,
                    jobs=jobs or config.default_jobs(), scheduler=scheduler, **options)
    with _Progress(shown=not quiet and sys.stderr.isatty()) as progress:
        reader.run(list(inputs), output, ledger=ledger_path, force=force, output_format=output_format,
                   also_written=[summary_json] if summary_json is not None else [], on_page=progress.page_read,
                   on_plan=progress.planned, summary=summary)
    where = "standard output" if output == STDOUT else output
    logging.getLogger("docproc").info("%s -> %s", summary.line(), where)
    if not quiet:
        click.echo(f"docproc: {summary.line()} -> {where}", err=True)


def _report_end(summary: RunSummary, summary_json: Path | None, output: Path, exit_code: int, error: str | None,
                started: datetime.datetime) -> None:
    """However the run ended: its last log line, and the JSON summary monitoring reads."""
    from docproc.run.summary import write_summary_json

    # INFO: the log file has it; stderr has had the error line already (or -v shows it).
    logging.getLogger("docproc").info("run ended with exit code %d%s", exit_code, f": {error}" if error else "")
    if summary_json is None:
        return
    try:
        write_summary_json(summary_json, summary, output, exit_code, error, started, datetime.datetime.now().astimezone())
    except OutputError as exc:  # the run's own outcome is what it exits with; this is said beside it
        click.echo(f"docproc: error: {exc.message}", err=True)


class _Progress:
    """The progress bar on stderr: a step per file, skipped files at once, the page being
    read. It starts once the run knows its files (``planned``)."""

    def __init__(self, shown: bool) -> None:
        self.shown = shown
        self.bar: Any = None
        self.files = 0
        self.current: str | None = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is None:
            return
        if exc[0] is None:
            self.bar.update(self.files - self.bar.pos)
        self.bar.__exit__(*exc)

    def planned(self, steps: list[Step]) -> None:
        self.files = len(steps)
        self.bar = click.progressbar(length=self.files, label="reading", file=sys.stderr, hidden=not self.shown,
                                     item_show_func=lambda name: name)
        self.bar.__enter__()
        self.bar.update(sum(step.action == "skip" for step in steps))

    def page_read(self, item: InputFile, number: int) -> None:
        if self.bar is None:
            return
        if self.current != item.name:
            if self.current is not None:
                self.bar.update(1)
            self.current = item.name
        self.bar.update(0, f"{item.name} p{number}")


@main.command("audit")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--truth", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Hand-keyed truth CSV with columns file,page,field,text.")
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False), default=Path("report"),
              show_default=True, help="Folder for report.html, metrics.json and the plots.")
@click.option("--target-error", type=click.FloatRange(0.0, 1.0), default=config.TARGET_ERROR, show_default=True,
              help="Error rate among accepted fields to find the review threshold for.")
@click.option("--scans", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Folder the results' file names are relative to (the run's --root): crops for the gallery.")
@click.option("--gallery", type=click.IntRange(min=0), default=config.GALLERY, show_default=True,
              help="How many of the worst errors to show.")
@verbosity
@reports_errors
def audit_command(results: tuple[Path, ...], truth: Path, output: Path, target_error: float, scans: Path | None,
                  gallery: int) -> None:
    """Measure runs' results (one CSV per run) against hand-keyed truth: accuracy, review
    threshold, calibration, and where it fails; writes report.html, metrics.json and plots.
    Needs the audit extra: pip install 'docproc[audit]'."""
    from docproc.audit import audit_results

    page, figures = audit_results(list(results), truth, output, target_error, scans, gallery)
    for note in figures["unmatched"]:
        click.echo(f"docproc: warning: {note}", err=True)
    overall, review = figures["overall"], figures["review"]
    needed = "-" if review["share_reviewed"] is None else f"{review['share_reviewed']:.1%}"
    bound = ("" if review["threshold"] is None else
             f" (95% upper bound {review['error_upper_95']:.2%} over {review['accepted']} accepted)")
    if review["threshold"] is not None and review["error_upper_95"] > target_error:
        # No sample shows a target of 0: sample_needed is None then.
        needs = (f"; it takes {review['sample_needed']:,} with no error" if review["sample_needed"] is not None
                 else "")
        click.echo(f"docproc: warning: {review['accepted']} accepted fields are too few to show {target_error:.2%} "
                   f"error (their 95% upper bound is {review['error_upper_95']:.2%}{needs}): audit more fields "
                   "before trusting the threshold", err=True)
    click.echo(f"docproc: {overall['fields']} fields, {overall['field_accuracy']:.2%} right, digits "
               f"{overall['digit_accuracy']:.2%}; review {needed} for {target_error:.2%} error{bound} -> {page}",
               err=True)


@main.command("review")
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False))
@option("--scans", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None, section="Input",
        help="Folder the results' file names are relative to (the run's --root; default: here).")
@option("--template", "templates", multiple=True, type=click.Path(path_type=Path, dir_okay=False), section="Input",
        help="A template the results were read with, so keyed values are checked against its rules (repeat for "
             "several).")
@option("--pdf-dpi", type=click.IntRange(50, 600), default=config.PDF_DPI, show_default=True, section="Input",
        help="The resolution the run rasterized PDFs at (its --pdf-dpi), so the boxes fit the pages.")
@option("--sample", type=click.FloatRange(0.0, 1.0), default=config.REVIEW_SAMPLE, show_default=True, section="Input",
        help="Share of the ok rows to key as well, unmarked, for quality control (0.02: 2%).")
@option("--order", type=click.Choice(config.REVIEW_ORDERS), default=config.REVIEW_ORDERS[0], show_default=True,
        section="Input", help="Least confident fields first, or in the results' order.")
@option("--host", default=config.REVIEW_HOST, show_default=True, section="Station",
        help="Address to serve at; any but a loopback one needs the token in the printed address.")
@option("--port", type=click.IntRange(0, 65535), default=config.REVIEW_PORT, show_default=True, section="Station",
        help="Port to serve at (0: any free one).")
@option("--store", type=click.Path(path_type=Path, dir_okay=False), default=None, section="Station",
        help="The SQLite file that keeps what is keyed (default: RESULTS.review.sqlite beside the results).")
@option("--export", "export_path", type=click.Path(path_type=Path, dir_okay=False), default=None, section="Output",
        help="Write the results with what was keyed (status keyed, machine_text, keyed_by, keyed_at) instead of "
             "serving.")
@option("--export-truth", "truth_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
        section="Output", help="Write the keyed fields as truth for `docproc audit --truth` instead of serving.")
@verbosity
@reports_errors
def review_command(results: Path, scans: Path | None, templates: tuple[Path, ...], store: Path | None, host: str,
                   port: int, sample: float, order: str, pdf_dpi: int, export_path: Path | None,
                   truth_path: Path | None) -> None:
    """Key by hand the fields the machine was not sure of, in the browser: serves the
    review station for RESULTS (every review row, least confident first) until Ctrl-C.
    Every keyed field is kept at once; --export and --export-truth write what was keyed."""
    from docproc.review.station import export, open_review, serve_review

    exporting = export_path is not None or truth_path is not None
    opened = open_review(results, scans, list(templates), store, sample, order, load_queue=not exporting,
                         must_exist=exporting)
    if not quiet_asked():
        for note in opened.warnings:
            click.echo(f"docproc: warning: {note}", err=True)
    if exporting:
        for line in export(opened, export_path, truth_path):
            click.echo(f"docproc: {line}", err=True)
        return

    def started(address: str) -> None:
        fields = f"{opened.queued} field" + ("" if opened.queued == 1 else "s")
        click.echo(f"docproc: reviewing {fields} of {results} (kept in {opened.store.path})", err=True)
        click.echo(f"docproc: open {address} in a browser; Ctrl-C stops the station", err=True)

    serve_review(opened, host, port, pdf_dpi, started)
    keyed = len(opened.store.keyed())
    click.echo(f"docproc: station stopped; {keyed} fields keyed in all, kept in {opened.store.path} "
               f"(`docproc review {results} --export reviewed.csv` writes them out)", err=True)


@main.group("template")
def template_group() -> None:
    """Check field templates, and print their JSON Schema."""


@template_group.command("schema")
@verbosity
@reports_errors
def template_schema_command() -> None:
    """Print the template contract as a JSON Schema (docs/template.schema.json), for
    editors that check templates as they are typed."""
    from docproc.layout.template_schema import json_schema

    click.echo(json_schema(), nl=False)


@template_group.command("check")
@click.argument("template_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--overlay", "scan", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="A scan to draw the template's boxes on: nominal in red, registered in green.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=Path("overlay.png"),
              show_default=True, help="Where to write the overlay image.")
@click.option("--split-documents", is_flag=True,
              help="Place the template on each document of the scan, as `docproc run --split-documents` reads them.")
@verbosity
@reports_errors
def template_check_command(template_path: Path, scan: Path | None, output: Path, split_documents: bool) -> None:
    """Validate a template; with --overlay, show where its boxes land on a scan."""
    from docproc.layout.templates import load_template

    template = load_template(template_path)
    reference = ", aligned to its reference form" if template.reference is not None else ""
    click.echo(f"{template_path}: template '{template.name}' is valid, {len(template.fields)} fields{reference}")
    for spec in template.fields:
        click.echo(f"  {spec.describe()}")
    if scan is not None:
        from docproc.layout.orientation import MIN_FIT, matches
        from docproc.layout.overlay import draw_overlay
        from docproc.layout.reference import MIN_CORRELATION

        layouts = draw_overlay(scan, template, output, split_documents)
        for part, located in enumerate(layouts, 1):
            fit = "fits the template" if matches(located.fit) else f"does not fit the template (under {MIN_FIT:g})"
            aligned = ""
            if located.correlation is not None:
                verdict = ("aligned" if located.correlation >= MIN_CORRELATION
                           else f"not the form (under {MIN_CORRELATION:g})")
                aligned = f"; correlation with the reference form {located.correlation:.2f}: {verdict}"
            where = (f"part {part} of {len(layouts)}, paper at {located.paper[0]},{located.paper[1]} px: "
                     if split_documents else "")
            click.echo(f"{where}turned {90 * located.turns} deg, skew {located.angle:.2f} deg, shift "
                       f"{located.shift[0]},{located.shift[1]} px; its boxes hold {located.fit:.1f} times the page's "
                       f"ink density: {fit}{aligned}")
        click.echo(f"overlay of {scan} written to {output}")


if __name__ == "__main__":
    main()
