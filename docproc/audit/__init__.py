"""Accuracy audits: results and hand-keyed truth in, figures, plots and a report out.

tables.py (read, check, join) -> scores.py (every figure) -> plots.py (PNG) -> report.py
(metrics.json, report.html).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docproc.config import GALLERY, TARGET_ERROR


def audit_results(results: list[Path], truth: Path, out: Path, target_error: float = TARGET_ERROR,
                  scans: Path | None = None, gallery: int = GALLERY) -> tuple[Path, dict[str, Any]]:
    """Audit results CSVs (one per run) against a truth CSV and write the report into ``out``.

    Returns report.html's path and the figures (what metrics.json holds; its
    ``unmatched`` lists what matched nothing, by file and line). Raises
    AuditInputError for a malformed input file and OutputError when ``out`` cannot be
    written.
    """
    from docproc.audit import report, scores, tables

    table = tables.load(results, truth)
    figures = scores.audit_figures(table.fields, table.extra, table.errors, target_error)
    figures["unmatched"] = table.unmatched()
    items = report.worst_errors(table.fields, scans, gallery)
    return report.write_report(out, figures, items, report.sources_of(results, truth)), figures
