"""Read a generated set (samples.pages.write_set) with docproc and pair each field's
reading with its truth (the field benchmark's reading step)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docproc.config import READER, RunOptions
from docproc.ingest.inputs import discover
from docproc.layout.templates import load_template
from docproc.output.results import FieldResult
from docproc.recognize.classifier import DigitClassifier
from docproc.run.pipeline import run_all
from docproc.run.summary import RunSummary

# Each kind of generated scan, and the template it is read with (zip crops have none).
KINDS = (("cheques", "cheque"), ("forms", "form"), ("zips", None))


@dataclass
class KindReading:
    """One kind's rows, the truth of each row (None for a string the truth lacks), the
    truth keys no row reported, and the run's summary."""

    kind: str
    rows: list[FieldResult]
    truths: list[str | None]
    missing: list[str]
    summary: RunSummary


def read_generated_kind(out: Path, truth: dict[tuple[str, int, str], str], classifier: DigitClassifier,
                        kind: str, direct_pdf_scans: bool = False, reader: str = READER) -> KindReading:
    """Run docproc over one kind under ``out/scans`` (with its template; with ``reader``)
    and match the rows with ``truth`` ((file, page, field) -> text, files relative to
    ``out/scans``)."""
    template_name = dict(KINDS)[kind]
    template = load_template(out / "templates" / f"{template_name}.yaml") if template_name else None
    files = discover([str(out / "scans" / kind)], root=out / "scans")
    options = RunOptions(template=template, direct_pdf_scans=direct_pdf_scans, reader=reader)
    rows, summary = run_all(files, classifier, options)
    found = {(r.file, r.page, r.field) for r in rows}
    missing = [t for k, t in truth.items() if k[0].startswith(kind + "/") and k not in found]
    return KindReading(kind, rows, [truth.get((r.file, r.page, r.field)) for r in rows], missing, summary)


def read_generated_set(out: Path, truth: dict[tuple[str, int, str], str], classifier: DigitClassifier,
                       reader: str = READER) -> list[KindReading]:
    """Each kind of the set under ``out`` read as ``read_generated_kind`` does."""
    return [read_generated_kind(out, truth, classifier, kind, reader=reader) for kind, _ in KINDS]
