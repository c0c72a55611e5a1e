"""The exit-code table in docs/exit-codes.md matches the exception classes."""

from __future__ import annotations

import re
from pathlib import Path

from docproc import errors
from docproc.run.stop_signals import INTERRUPTED_EXIT, TERMINATED_EXIT

EXIT_CODES = Path(__file__).resolve().parent.parent / "docs" / "exit-codes.md"


def test_every_error_exit_code_is_documented_once() -> None:
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", EXIT_CODES.read_text(), re.M))
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.DocprocError)]
    codes = [c.exit_code for c in classes if c is not errors.DocprocError]
    assert len(codes) == len(set(codes)), "two error classes share an exit code"
    # 0 is success, 1 an unexpected error (a bug), 2 click's own for bad usage; then the signals'.
    assert set(codes) | {0, 1, 2, INTERRUPTED_EXIT, TERMINATED_EXIT} == {int(code) for code in table}
