"""kill -9 at random points of real runs, then a rerun: the CSV is byte for byte what an
uninterrupted run writes (no duplicated, missing or half-written rows)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samples.pages import write_set

DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
pytestmark = pytest.mark.slow
KILLS = 6


def _committed(ledger: Path) -> int:
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=0.05) as db:
            return int(db.execute("SELECT count(*) FROM inputs").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet, or mid-write


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()
            and (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")}


def test_runs_killed_at_random_points_then_rerun_give_the_uninterrupted_csv(tmp_path: Path) -> None:
    write_set(tmp_path, cheques=8, forms=0, zips=0, seed=2024, formats=("png", "jpg", "pdf"))
    scans = tmp_path / "scans"
    # Broken files too: their error rows must come through the kills like the rest.
    (scans / "cheques" / "empty.png").write_bytes(b"")
    first = sorted((scans / "cheques").glob("cheque-*.png"))[0].read_bytes()
    (scans / "cheques" / "truncated.png").write_bytes(first[: len(first) // 3])

    def command(output: Path) -> list[str]:
        # Small batches, so files complete (and are committed) all through the run.
        return [DOCPROC, "run", str(scans / "cheques"), "--template", str(tmp_path / "templates" / "cheque.yaml"),
                "-o", str(output), "-q", "--batch-size", "16", "--jobs", "2"]

    reference = tmp_path / "reference.csv"
    started = time.monotonic()
    done = subprocess.run(command(reference), capture_output=True, text=True, timeout=600)
    whole_run = time.monotonic() - started
    assert done.returncode == 3, done.stderr  # the two broken files
    expected = reference.read_bytes()

    out = tmp_path / "out" / "results.csv"
    out.parent.mkdir()
    ledger = out.with_name(out.name + ".ledger.sqlite")
    rng = random.Random(7)
    progress = []
    orphans: set[int] = set()
    for kill in range(KILLS):
        run = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kill % 2 == 0:
            # Anywhere in the run: start-up, reading, committing, writing the CSV.
            time.sleep(rng.uniform(0.1, 1.0) * whole_run)
        else:
            # Just after some file was committed: the next file may be half read.
            target = _committed(ledger) + rng.randint(1, 3)
            deadline = time.monotonic() + whole_run * 2
            while _committed(ledger) < target and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
        workers = _children(run.pid)
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=60)
        orphans.update(workers)
        progress.append(_committed(ledger))
        if out.exists():
            # Whatever a killed run leaves is a whole CSV, never half of one.
            assert out.read_bytes() == expected
    final = subprocess.run(command(out), capture_output=True, text=True, timeout=600)
    assert final.returncode == 3, final.stderr
    assert out.read_bytes() == expected, f"files committed after each kill: {progress}"
    # The kills landed in the middle of the work, not all before or after it.
    assert any(0 < n < 11 for n in progress), progress
    # Worker processes of killed runs do not live on, waiting for work that never comes.
    deadline = time.monotonic() + 20
    while _alive(orphans) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(orphans), f"workers left behind: {sorted(_alive(orphans))}"
