"""A full disk is named as such wherever it strikes (ledger, CSV, summary, log), with what
was kept: a real SQLite database that cannot grow, a real /dev/full, and an fsync that
reports an error the way delayed allocation does (the CSV's own full disk is in
tests/test_templates_results.py)."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest

from docproc.errors import DiskFullError, OutputError, is_disk_full
from docproc.output.atomic import write_atomically
from docproc.output.results import FieldResult
from docproc.run.ledger import Fingerprint, InputRecord, Ledger
from docproc.run.log_file import LogFile

FP = Fingerprint("template", "model", "options")


def _record(path: str, rows: int) -> tuple[InputRecord, list[FieldResult]]:
    return (InputRecord(path, Path(path).name, 10, 1, "0" * 64, 1, FP, 1, False),
            [FieldResult(Path(path).name, 1, "", f"field{k}", text="1234567890" * 20, confidence=0.5)
             for k in range(rows)])


def test_a_ledger_that_cannot_grow_is_a_full_disk_and_keeps_what_was_committed(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.commit(*_record("/scans/first.png", 2))
        # SQLite's own limit on the file's pages fails a write exactly as a full disk does (SQLITE_FULL).
        pages = ledger._db.execute("PRAGMA page_count").fetchone()[0]
        ledger._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(DiskFullError) as caught:
            ledger.commit(*_record("/scans/second.png", 400))
        message = caught.value.message
        assert "the disk is full" in message and "every file committed before is kept" in message
        assert "rollback" not in message  # SQLite's own words for the second failure, which hid the first
        assert caught.value.exit_code == 13 and isinstance(caught.value, OutputError)
        assert set(ledger.records()) == {"/scans/first.png"}
        assert len(ledger.rows(["/scans/first.png"])["/scans/first.png"]) == 2


def test_other_write_failures_are_not_called_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(descriptor: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", denied)
    with pytest.raises(OutputError) as caught:
        write_atomically(tmp_path / "s.json", b"{}")
    assert not isinstance(caught.value, DiskFullError) and "disk is full" not in caught.value.message
    assert not is_disk_full(OSError(errno.EIO, "x")) and is_disk_full(OSError(errno.EDQUOT, "x"))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_a_log_file_on_a_full_disk_says_so_once_and_the_run_goes_on(capfd: pytest.CaptureFixture[str]) -> None:
    handler = LogFile("/dev/full")  # every write to it fails with ENOSPC
    logger = logging.getLogger("docproc.test_disk_full")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for page in range(1, 4):
            logger.info("scan.png page %d: read", page)
    finally:
        logger.removeHandler(handler)
        handler.close()
    err = capfd.readouterr().err
    assert err.count("docproc: warning: the disk holding the log file /dev/full is full") == 1, err
    assert "scan.png page 1: read" in err and "Traceback" not in err and "Logging error" not in err
