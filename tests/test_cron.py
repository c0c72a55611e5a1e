"""The README's crontab, run as written: the nightly line reads a folder of scans and
leaves a summary, and the morning line is silent after a good run and speaks (exit 1)
after a failed one, a stale one, or none."""

from __future__ import annotations

import datetime
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from samples.pages import write_set

REPO = Path(__file__).resolve().parent.parent
DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"


def _crontab() -> list[str]:
    """The commands of the README's cron block, without their schedules."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"### Running from cron\n\n```cron\n(.*?)```", readme, re.S)
    assert block is not None, "the README has no cron block under 'Running from cron'"
    lines = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]
    return [line.split(None, 5)[5] for line in lines]


def _as_here(command: str, scans: Path, results: Path) -> str:
    """The crontab command with its /srv paths swapped for this test's, and the
    interpreters for this environment's."""
    return (command.replace("/srv/docproc", str(REPO)).replace("/srv/scans", str(scans))
            .replace("/srv/results", str(results)).replace(".venv/bin/docproc", shlex.quote(DOCPROC))
            .replace("python3 -c", f"{shlex.quote(sys.executable)} -c"))


def _run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600)


def test_the_readme_crontab_runs_and_its_monitoring_line_tells_good_from_bad(tmp_path: Path) -> None:
    nightly, morning = _crontab()
    write_set(tmp_path / "set", cheques=2, forms=0, zips=0, seed=2026)
    scans, results = tmp_path / "set" / "scans", tmp_path / "results"
    results.mkdir()
    check = _as_here(morning, scans, results)
    summary = results / "cheques.json"

    # Before any run there is no summary: the check must not pass.
    assert _run(check).returncode != 0

    run = _run(_as_here(nightly, scans, results))
    assert run.returncode == 0, run.stderr
    assert (results / "cheques.csv").is_file() and ": committed" in (results / "cheques.log").read_text()
    good = _run(check)
    assert good.returncode == 0 and good.stdout == "" and good.stderr == "", good

    report = json.loads(summary.read_text())
    failed = {**report, "exit_code": 3, "error_message": "1 files could not be read (their rows say why)"}
    summary.write_text(json.dumps(failed))
    bad = _run(check)
    assert bad.returncode == 1 and "exit 3" in bad.stdout and "could not be read" in bad.stdout, bad

    two_days_ago = datetime.datetime.now().astimezone() - datetime.timedelta(days=2)
    summary.write_text(json.dumps({**report, "ended": two_days_ago.isoformat(timespec="seconds")}))
    stale = _run(check)
    assert stale.returncode == 1 and "exit 0" in stale.stdout, stale
