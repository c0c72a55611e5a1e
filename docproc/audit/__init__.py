"""Accuracy audits: results and hand-keyed truth in, figures, plots and a report out.

tables.py (read, check, join) -> scores.py (every figure) -> plots.py (PNG) -> report.py
(metrics.json, report.html).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from docproc.config import GALLERY, TARGET_ERROR
from docproc.errors import MissingExtraError

# What the audit extra brings (pyproject.toml): tables, the Clopper-Pearson bounds, the plots.
# Reading does without them, so the default install has none of them.
AUDIT_PARTS = ("pandas", "scipy", "matplotlib")


def require_audit_parts(command: str = "docproc audit") -> None:
    """Import what the audit extra brings; MissingExtraError with the pip command when
    this install lacks it (``command`` is what the message says needs it)."""
    for module in AUDIT_PARTS:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtraError(
                f"{command} needs {', '.join(AUDIT_PARTS)}, which this install lacks: pip install 'docproc[audit]' "
                f"(reading and review do without them). ({exc})"
            ) from exc


def audit_results(results: list[Path], truth: Path, out: Path, target_error: float = TARGET_ERROR,
                  scans: Path | None = None, gallery: int = GALLERY) -> tuple[Path, dict[str, Any]]:
    """Audit results CSVs (one per run) against a truth CSV and write the report into ``out``.

    Returns report.html's path and the figures (what metrics.json holds; its
    ``unmatched`` lists what matched nothing, by file and line). Raises
    AuditInputError for a malformed input file, OutputError when ``out`` cannot be
    written and MissingExtraError without the audit extra.
    """
    require_audit_parts()
    from docproc.audit import report, scores, tables

    table = tables.load(results, truth)
    figures = scores.audit_figures(table.fields, table.extra, table.errors, target_error)
    figures["unmatched"] = table.unmatched()
    items = report.worst_errors(table.fields, scans, gallery)
    return report.write_report(out, figures, items, report.sources_of(results, truth)), figures
