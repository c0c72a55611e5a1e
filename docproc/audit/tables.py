"""Read a results CSV and a hand-keyed truth CSV, check them, and join them field by field.

Every problem with either file is reported with the file and the line (as a spreadsheet
shows it: the header is line 1), so the person who keyed the truth can fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from docproc.errors import AuditInputError

# A field is known by its file, page, the document on the page (``part``: optional in
# either file, 1 where absent, so truth keyed before documents were split still joins)
# and its name.
KEY = ["file", "page", "part", "field"]
TRUTH_COLUMNS = ["file", "page", "field", "text"]
RESULT_COLUMNS = ["file", "page", "field", "text", "confidence", "status"]
# Used when present: the template column groups figures, the rest fill the gallery.
OPTIONAL_COLUMNS = ["template", "digit_confidences", "x", "y", "w", "h"]
# Outcome of each truth field: read right, read wrong, not in the results at all, or on
# a page the run could not read (an error row).
OUTCOMES = ("right", "wrong", "missing", "error")


@dataclass(frozen=True)
class AuditTable:
    """The join: one row per truth field (columns file, page, part, field, truth, text,
    confidence, status, outcome, results_line, truth_line and OPTIONAL_COLUMNS, empty
    where the results lack them), the result rows no truth field matched (``extra``), and
    the results' error rows."""

    fields: pd.DataFrame
    extra: pd.DataFrame
    errors: pd.DataFrame

    def unmatched(self, limit: int = 10) -> list[str]:
        """What matched nothing, as messages naming the file and lines (at most ``limit``
        lines each): truth fields no result has (scored wrong) and result rows no truth
        field has (not scored; usual when the truth is a sample of the run)."""
        notes = []
        missing = self.fields[self.fields["outcome"] == "missing"]
        if len(missing):
            lines = ", ".join(map(str, missing["truth_line"].head(limit)))
            more = f" and {len(missing) - limit} more" if len(missing) > limit else ""
            notes.append(f"{missing['source'].iloc[0]}, line(s) {lines}{more}: {len(missing)} truth field(s) have no "
                         "row in the results; they count as wrong (was the run given every file?)")
        for source, rows in self.extra.groupby("source", sort=False):
            lines = ", ".join(map(str, rows["line"].head(limit)))
            more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
            notes.append(f"{source}, line(s) {lines}{more}: {len(rows)} result row(s) match no truth field; "
                         "they are not scored")
        return notes


def _read(path: Path, required: list[str], what: str) -> pd.DataFrame:
    if not path.is_file():
        raise AuditInputError(f"{what} file {path} not found; give the path of a CSV file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise AuditInputError(f"{path}: not a readable CSV file ({exc}); save it as UTF-8 CSV with a header line") from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise AuditInputError(
            f"{path}, line 1: {what} file lacks column(s) {', '.join(missing)}; "
            f"it needs at least {', '.join(required)}"
        )
    frame["line"] = range(2, len(frame) + 2)
    frame["source"] = str(path)
    if "part" not in frame.columns:
        frame["part"] = "1"
    for column, what in (("page", "a page number"), ("part", "a document's part number")):
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[numbers.isna() | (numbers < 1) | (numbers % 1 != 0)]
        if len(bad):
            row = bad.iloc[0]
            raise AuditInputError(f"{path}, line {row['line']}: {column} {row[column]!r} is not {what} (1, 2, ...)")
        frame[column] = numbers.astype(int)
    return frame


def _duplicates(frame: pd.DataFrame) -> None:
    repeated = frame[frame.duplicated(KEY, keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        same = repeated[(repeated[KEY] == first[KEY]).all(axis=1)]
        places = "; ".join(f"{source}, line {line}" for source, line in zip(same["source"], same["line"]))
        part = f" part {first['part']}" if first["part"] != 1 else ""
        raise AuditInputError(
            f"{places}: field {first['field']!r} of {first['file']} page {first['page']}{part} appears more than once; "
            "keep one row per field"
        )


def _truth_texts(truth: pd.DataFrame, path: Path) -> None:
    bad = truth[~truth["text"].str.fullmatch(r"\d*")]
    if len(bad):
        row = bad.iloc[0]
        raise AuditInputError(f"{path}, line {row['line']}: truth {row['text']!r} is not a digit string")


def load(results_paths: list[Path], truth_path: Path) -> AuditTable:
    """Read, check and join the results files (one run each, e.g. one per template) with
    the truth; AuditInputError names the file and line of the first problem (missing
    columns, bad page numbers, non-digit truth, confidences outside 0-1, duplicate keys)
    and says how to fix it, or that no result matches any truth field."""
    results = pd.concat([_read(path, RESULT_COLUMNS, "results") for path in results_paths], ignore_index=True)
    results_name = ", ".join(map(str, results_paths))
    truth = _read(truth_path, TRUTH_COLUMNS, "truth")
    _truth_texts(truth, truth_path)
    _duplicates(truth)
    is_error = results["status"] == "error"
    errors = results[is_error]
    fields = results[~is_error]
    _duplicates(fields)
    confidence = pd.to_numeric(fields["confidence"], errors="coerce")
    bad = fields[confidence.isna() | (confidence < 0) | (confidence > 1)]
    if len(bad):
        row = bad.iloc[0]
        raise AuditInputError(f"{row['source']}, line {row['line']}: confidence {row['confidence']!r} is not between 0 and 1")
    fields = fields.assign(confidence=confidence.astype(float))
    for optional in OPTIONAL_COLUMNS:
        if optional not in fields.columns:
            fields = fields.assign(**{optional: ""})

    joined = truth.rename(columns={"text": "truth", "line": "truth_line"}).merge(
        fields[[*KEY, *OPTIONAL_COLUMNS, "text", "confidence", "status", "line"]].rename(
            columns={"line": "results_line"}),
        on=KEY, how="left", indicator=True,
    )
    found = joined["_merge"] == "both"
    if len(truth) and len(fields) and not found.any():
        raise AuditInputError(
            f"no field of {results_name} matches a field of {truth_path} by (file, page, part, field): check that both "
            f"name files the same way (docproc run --root makes the names relative to one folder), e.g. "
            f"{fields.iloc[0]['file']!r} against {truth.iloc[0]['file']!r}"
        )
    # An error row stops the reading of its file at its page: it covers the truth fields
    # on that page and after it (page 1: the whole file).
    first_error = errors.groupby("file")["page"].min()
    error_from = joined["file"].map(first_error)
    on_error = error_from.notna() & (joined["page"] >= error_from.fillna(0))
    outcome = pd.Series("missing", index=joined.index)
    outcome[~found & on_error] = "error"
    outcome[found] = (joined["truth"] == joined["text"]).map({True: "right", False: "wrong"})[found]
    joined = joined.drop(columns="_merge").assign(outcome=outcome)
    joined["text"] = joined["text"].fillna("")
    joined["confidence"] = joined["confidence"].fillna(0.0)
    for column in (*OPTIONAL_COLUMNS, "status"):
        joined[column] = joined[column].fillna("")

    matched = fields.merge(truth[KEY], on=KEY, how="left", indicator=True)
    extra = matched[matched["_merge"] == "left_only"].drop(columns="_merge")
    return AuditTable(joined.reset_index(drop=True), extra.reset_index(drop=True), errors.reset_index(drop=True))
