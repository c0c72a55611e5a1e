"""What comes out of review: the results with what people keyed, and the keyed truth.

``reviewed`` is the results file row for row, a keyed field's digits in ``text`` (and its
marks and value), status ``keyed``, and three columns more: the machine's reading, who
keyed it and when (docs/results-csv.md, "Reviewed results"). ``truth`` is the keyed
fields in the audit's truth format, so ``docproc audit`` measures the machine against
what people keyed. A value keyed off a scan that has changed since is left out of both.
"""

from __future__ import annotations

import json
from pathlib import Path

from docproc.output.atomic import write_atomically
from docproc.output.results import COLUMNS, csv_bytes, read_rows
from docproc.recognize.judgement import value_of
from docproc.review.crops import ScanFiles
from docproc.review.queue import field_key, is_json_lines
from docproc.review.rules import Rules
from docproc.review.store import Keyed, ReviewStore

REVIEWED_COLUMNS = [*COLUMNS, "machine_text", "keyed_by", "keyed_at"]
TRUTH_COLUMNS = ["file", "page", "part", "field", "text"]
KEYED = "keyed"
# The reason column of a keyed row, by what was keyed (store.KINDS).
KEYED_REASONS = {"value": "", "unreadable": "keyed unreadable", "blank": "keyed blank"}


def _results_rows(path: Path) -> list[dict[str, object]]:
    """The results file's rows with COLUMNS, values as the CSV spells them (a JSON Lines
    record's numbers and lists as the CSV would)."""
    if not is_json_lines(path):
        records: list[dict[str, object]] = list(read_rows(path)[1])
    else:
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for r in records:
            r.update({k: (r.get("box") or {}).get(k, 0) for k in ("x", "y", "w", "h")})  # type: ignore[union-attr]
            r["digit_confidences"] = " ".join(f"{c:.4f}" for c in r["digit_confidences"])  # type: ignore[union-attr]
            r["confidence"] = f"{r['confidence']:.4f}"
    return [{column: r.get(column, 1 if column == "part" else "") for column in COLUMNS} for r in records]


def current_entries(store: ReviewStore, scans: ScanFiles, names: set[str]) -> dict[str, Keyed]:
    """The keyed entry of each field key that still holds: keyed off the scan as it is now
    (or where either hash is unknown), the latest where several do."""
    found: dict[str, Keyed] = {}
    for entry in store.keyed():
        name = json.loads(entry.key)[0]
        if name not in names:
            continue
        now = scans.sha256(name)
        if entry.sha256 and now and entry.sha256 != now:
            continue
        found[entry.key] = entry
    return found


def reviewed_rows(results: Path, store: ReviewStore, scans: ScanFiles, rules: Rules) -> list[dict[str, object]]:
    """The reviewed results' rows (REVIEWED_COLUMNS), keyed ones with status KEYED."""
    records = _results_rows(results)
    entries = current_entries(store, scans, {str(r["file"]) for r in records})
    rows = []
    for row in records:
        row = {**row, "machine_text": row["text"], "keyed_by": "", "keyed_at": ""}
        entry = entries.get(field_key(row["file"], row["page"], row["part"], row["field"]))
        if entry is not None:
            spec = rules.spec(str(row["template"]), str(row["field"]))
            value = value_of(entry.text, entry.marks, spec) if spec is not None and spec.value_type != "digits" else ""
            row.update(text=entry.text, marks=entry.marks or entry.text, value=value or "", status=KEYED,
                       reason=KEYED_REASONS[entry.kind], error="", keyed_by=entry.operator, keyed_at=entry.at_iso)
        rows.append(row)
    return rows


def write_reviewed(rows: list[dict[str, object]], out: Path) -> int:
    """Write the reviewed results (``reviewed_rows``) to ``out`` atomically; the number of keyed rows."""
    write_atomically(out, csv_bytes(rows, REVIEWED_COLUMNS), fix="free some space or choose another --export path")
    return sum(row["status"] == KEYED for row in rows)


def write_truth(rows: list[dict[str, object]], out: Path) -> int:
    """Write the keyed fields of the reviewed results (``reviewed_rows``) as audit truth to
    ``out``: every field keyed with a value or as blank (truth: empty); one keyed
    unreadable has no truth and is left out. The number of truth rows."""
    truth = [{k: row[k] for k in TRUTH_COLUMNS} for row in rows
             if row["status"] == KEYED and row["reason"] != KEYED_REASONS["unreadable"]]
    write_atomically(out, csv_bytes(truth, TRUTH_COLUMNS), fix="free some space or choose another --export-truth path")
    return len(truth)
