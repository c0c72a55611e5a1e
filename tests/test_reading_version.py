"""The reading code's fingerprint: any change to the code that turns pages into rows
stops here until someone has decided whether it can change a row (and so whether
READING_VERSION must go up, which makes ledgers read their files again)."""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

import pytest

import docproc
from docproc.config import RunOptions
from docproc.run import fingerprint
from docproc.run.fingerprint import READING_CODE, READING_VERSION

# Recorded with READING_VERSION, on the Python named (ast.unparse may write the same code
# a little differently on another); see the message below for when and how to change it.
RECORDED = (6, "68dcf6c147c127c62cfca63ad7c03d7c855f4ba8e07df58d7b3944640c1ca692")
RECORDED_ON_PYTHON = (3, 11)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return tree


def reading_code_sha256() -> str:
    """SHA-256 over the reading modules' syntax trees: comments, docstrings and layout may
    change freely, code may not."""
    package = Path(docproc.__file__).resolve().parent
    digest = hashlib.sha256()
    for name in READING_CODE:
        tree = _without_docstrings(ast.parse((package / name).read_text()))
        digest.update(f"{name}\n{ast.unparse(tree)}\n".encode())
    return digest.hexdigest()


def test_the_reading_code_is_the_code_its_version_was_recorded_for() -> None:
    if sys.version_info[:2] != RECORDED_ON_PYTHON:
        pytest.skip(f"the fingerprint was recorded on Python {RECORDED_ON_PYTHON}")
    now = reading_code_sha256()
    assert (READING_VERSION, now) == RECORDED, (
        f"The code that turns pages into rows has changed (its fingerprint is now {now}). If the change can "
        "change any row, raise READING_VERSION in docproc/run/fingerprint.py (ledgers then read their files "
        "again); if it cannot (a refactoring that gives byte-identical CSVs, measured), keep it. Either way, "
        f"record RECORDED = ({READING_VERSION}, \"{now}\") in tests/test_reading_version.py.")


def test_a_new_reading_version_makes_ledgers_read_their_files_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from docproc.recognize.model_files import SHIPPED_CHECK, SHIPPED_MODEL

    models = [SHIPPED_MODEL, SHIPPED_CHECK]
    before = fingerprint.reading_fingerprint(RunOptions(), models)
    monkeypatch.setattr(fingerprint, "READING_VERSION", READING_VERSION + 1)
    after = fingerprint.reading_fingerprint(RunOptions(), models)
    assert after.options_hash != before.options_hash and after.model_hash == before.model_hash
