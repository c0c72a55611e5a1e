"""One run at a time per output, and a run killed with -9 never blocks the next."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from docproc.run.run_lock import lock_path
from samples.pages import write_set

DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
HOLD = """
import fcntl, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
handle.seek(0); handle.truncate(); handle.write("pid 4242"); handle.flush()
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_a_second_run_exits_at_once_and_a_killed_run_does_not_block(tmp_path: Path) -> None:
    write_set(tmp_path, cheques=1, forms=0, zips=0, seed=99, formats=("png",))
    out = tmp_path / "results.csv"
    out.write_text("the previous run's results\n")
    command = [DOCPROC, "run", str(tmp_path / "scans" / "cheques"), "--template",
               str(tmp_path / "templates" / "cheque.yaml"), "-o", str(out), "-q"]
    # Another process holds the output's lock, as a run in progress does.
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path(out))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # The holder keeps the lock for 10 minutes: a run that waited for it would time out here.
        busy = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert busy.returncode == 9, busy.stderr
        assert "another docproc run (pid 4242) is writing" in busy.stderr and "Traceback" not in busy.stderr
        assert out.read_text() == "the previous run's results\n"  # nothing touched
        # The holder dies without any chance to clean up: the next run is not blocked.
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("file,page,part,template,field")


@pytest.mark.slow
def test_a_run_on_a_ledger_in_use_exits_at_once(tmp_path: Path) -> None:
    write_set(tmp_path, cheques=1, forms=0, zips=0, seed=98, formats=("png",))
    ledger = tmp_path / "shared.ledger.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path(ledger))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # Another output, the same ledger: still one run at a time.
        busy = subprocess.run([DOCPROC, "run", str(tmp_path / "scans" / "cheques"), "-o", str(tmp_path / "other.csv"),
                               "--ledger", str(ledger), "-q"], capture_output=True, text=True, timeout=300)
        assert busy.returncode == 9, busy.stderr
        assert f"is writing {ledger}" in busy.stderr
        assert not (tmp_path / "other.csv").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
