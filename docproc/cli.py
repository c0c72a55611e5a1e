"""The ``docproc`` command line: parses options, calls library functions, maps errors to exit codes."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from docproc import __version__
from docproc.errors import DocprocError, InputFileError

F = TypeVar("F", bound=Callable[..., Any])

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


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


model_option = click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Keras model file (default: $DOCPROC_MODEL, else the shipped models/digits-cnn.keras).",
)


@click.group()
@click.version_option(__version__, prog_name="docproc")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-v: progress, -vv: debug, incl. backend start-up).")
def main(verbose: int) -> None:
    """Read handwritten digits off scanned documents."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="docproc: %(levelname)s: %(message)s", stream=sys.stderr)


@main.command("model")
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole card as JSON.")
@reports_errors
def model_command(model_path: Path | None, as_json: bool) -> None:
    """Print the model card: test accuracy, calibration, per-digit scores, provenance."""
    from docproc.model_card import format_card, read_card

    card = read_card(model_path)
    click.echo(json.dumps(card, indent=2) if as_json else format_card(card))


def _expand_images(inputs: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif item.exists():
            files.append(item)
        else:
            raise InputFileError(f"{item} does not exist. Give image files or folders of them.")
    if not files:
        raise InputFileError("No image files found in the given inputs (looked for " + ", ".join(sorted(IMAGE_SUFFIXES)) + ").")
    return files


@main.command("classify")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option
@click.option("--batch-size", type=click.IntRange(min=1), default=1024, show_default=True)
@reports_errors
def classify_command(inputs: tuple[Path, ...], model_path: Path | None, batch_size: int) -> None:
    """Classify single-digit crop images (files or folders); prints file, digit, confidence.

    Unreadable files are reported on their own line and the rest are still classified;
    the exit status is then 3.
    """
    import numpy as np

    from docproc.classify import load_classifier
    from docproc.crops import ink_from_grey, load_grey
    from docproc.normalize import normalize_glyph

    files = _expand_images(inputs)
    classifier = load_classifier(model_path, batch_size=batch_size)
    digits, readable, failures = [], [], 0
    for path in files:
        try:
            digits.append(normalize_glyph(ink_from_grey(load_grey(path))))
            readable.append(path)
        except InputFileError as exc:
            failures += 1
            click.echo(f"{path}\terror\t{exc.message}")
    if digits:
        probabilities = classifier.predict(np.stack(digits))
        for path, row in zip(readable, probabilities):
            click.echo(f"{path}\t{int(row.argmax())}\t{float(row.max()):.4f}")
    if failures:
        sys.exit(InputFileError.exit_code)


if __name__ == "__main__":
    main()
