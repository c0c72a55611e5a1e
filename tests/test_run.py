"""`docproc run` end to end: real PDFs through poppler, multi-page TIFFs, PNG and JPEG
cheques written with MNIST test digits, the shipped model, exit codes and the CSV."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from docproc.output.results import COLUMNS, read_csv
from samples.pages import write_set
from tests.commands import DOCPROC, docproc

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("set")
    write_set(out, cheques=4, forms=1, zips=6, seed=4242)
    return out


def truth_of(root: Path) -> dict[tuple[str, int, str], str]:
    with (root / "truth.csv").open() as handle:
        return {(r["file"], int(r["page"]), r["field"]): r["text"] for r in csv.DictReader(handle)}


@pytest.mark.parametrize("kind, template", [("cheques", "cheque"), ("forms", "form"), ("zips", None)])
def test_run_reads_each_kind_of_document(scans: Path, tmp_path: Path, kind: str, template: str | None) -> None:
    out = tmp_path / "r.csv"
    args = ["run", str(scans / "scans" / kind), "--root", str(scans / "scans"), "-o", str(out)]
    if template:
        args += ["--template", str(scans / "templates" / f"{template}.yaml")]
    result = docproc(*args)
    assert result.returncode == 0, result.stderr
    assert "pages" in result.stderr and "Traceback" not in result.stderr
    frame = read_csv(out)
    assert list(frame.columns) == COLUMNS
    truth = {k: v for k, v in truth_of(scans).items() if k[0].startswith(kind + "/")}
    got = {(r.file, int(r.page), r.field): r.text for r in frame.itertuples()}
    assert set(got) == set(truth)
    right = sum(got[k] == v for k, v in truth.items())
    assert right >= 0.75 * len(truth), f"{right}/{len(truth)} fields right"
    assert set(frame["status"]) <= {"ok", "review"}
    assert (frame["w"] > 0).all() and (frame["h"] > 0).all()


def test_results_do_not_depend_on_batch_size(scans: Path, tmp_path: Path) -> None:
    outputs = []
    for batch in ("1", "4096"):
        out = tmp_path / f"b{batch}.csv"
        result = docproc("run", str(scans / "scans" / "cheques"), "--template", str(scans / "templates" / "cheque.yaml"),
                         "--batch-size", batch, "-o", str(out), "-q")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("reader", ["both", "sequence"])
def test_each_reader_reads_alike_whatever_the_batch_size_and_jobs(scans: Path, tmp_path: Path, reader: str) -> None:
    outputs = []
    for batch, jobs in (("1", "1"), ("4096", "2")):
        out = tmp_path / f"b{batch}.csv"
        result = docproc("run", str(scans / "scans" / "cheques"), "--template", str(scans / "templates" / "cheque.yaml"),
                         "--root", str(scans / "scans"), "--reader", reader, "--batch-size", batch, "--jobs", jobs,
                         "-o", str(out), "-q")
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    frame = read_csv(tmp_path / "b1.csv")
    truth = truth_of(scans)
    right = sum(truth[(r.file, int(r.page), r.field)] == r.text for r in frame.itertuples())
    assert right >= 0.75 * len(frame) and len(frame) == 8, f"{right}/{len(frame)} fields right"


def test_unreadable_files_get_error_rows_and_exit_3(scans: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(scans / "scans" / "cheques", folder)
    (folder / "fake.pdf").write_text("this is a text file named .pdf")
    (folder / "empty.png").write_bytes(b"")
    truncated = folder / "cut.png"
    truncated.write_bytes((scans / "scans" / "cheques" / "cheque-0002.png").read_bytes()[:5000])
    out = tmp_path / "r.csv"
    result = docproc("run", str(folder), "--template", str(scans / "templates" / "cheque.yaml"), "-o", str(out))
    assert result.returncode == 3, result.stderr
    frame = read_csv(out)
    errors = frame[frame["status"] == "error"]
    assert set(errors["file"]) == {"fake.pdf", "empty.png", "cut.png"}
    assert all(errors["error"].str.len() > 10)
    assert (frame["status"] != "error").sum() == 8  # the 4 good cheques, 2 fields each


def test_a_bad_template_is_refused_before_any_work(scans: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfields:\n  - {name: a, box: [10, 10, 200, 50], length: 3}\n")
    out = tmp_path / "r.csv"
    result = docproc("run", str(scans / "scans" / "cheques"), "--template", str(bad), "-o", str(out))
    assert result.returncode == 4
    assert "field 'a'" in result.stderr and "fractions" in result.stderr
    assert not out.exists()


def test_a_missing_input_is_refused_before_any_work_and_an_empty_folder_is_a_normal_run(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = docproc("run", str(tmp_path / "not-mounted"), "-o", str(out))
    assert result.returncode == 12 and "not-mounted does not exist; nothing was read" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no CSV, no ledger, no lock files
    (tmp_path / "tonight").mkdir()
    result = docproc("run", str(tmp_path / "tonight"), "-o", str(out))
    assert result.returncode == 0 and "holds no PDF or image files" in result.stderr, result.stderr
    assert out.read_text() == ",".join(COLUMNS) + "\n"  # the header alone


def test_every_exit_leaves_a_summary_json_and_a_log_line(scans: Path, tmp_path: Path) -> None:
    import datetime
    import json

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfields: []\n")
    for args, code, says in [(["--template", str(bad)], 4, "'fields' must be a non-empty list"),
                             (["--root", str(tmp_path)], 12, "does not exist")]:
        summary, log = tmp_path / f"{code}.json", tmp_path / f"{code}.log"
        inputs = [str(tmp_path / "gone")] if code == 12 else [str(scans / "scans" / "zips")]
        result = docproc("run", *inputs, "-o", str(tmp_path / "r.csv"), "--summary-json", str(summary),
                         "--log-file", str(log), *args)
        assert result.returncode == code, result.stderr
        report = json.loads(summary.read_text())
        assert report["exit_code"] == code and says in report["error_message"] and report["pages"] == 0
        started, ended = (datetime.datetime.fromisoformat(report[k]) for k in ("started", "ended"))
        assert started.tzinfo is not None and started <= ended
        assert f"run ended with exit code {code}: " in log.read_text()
    # A run that reads: the message is empty, the counts are there.
    summary = tmp_path / "ok.json"
    assert docproc("run", str(scans / "scans" / "zips"), "-o", str(tmp_path / "z.csv"), "-q",
                   "--summary-json", str(summary)).returncode == 0
    report = json.loads(summary.read_text())
    assert report["exit_code"] == 0 and report["error_message"] is None and report["pages"] == 6


@pytest.fixture(scope="module")
def many_cheques(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough cheques that a signal sent once the first is committed lands mid-run, not
    in the last moments of a short one (where CI once caught it in a finalizer)."""
    out = tmp_path_factory.mktemp("many")
    write_set(out, cheques=40, forms=0, zips=0, seed=4343, formats=("png",))
    return out / "scans" / "cheques"


@pytest.mark.parametrize(("name", "group", "code"), [("SIGINT", True, 130), ("SIGTERM", False, 143),
                                                   ("SIGTERM", True, 143)])
def test_a_signal_stops_a_run_with_workers_in_one_line_and_the_summary_says_so(
        many_cheques: Path, tmp_path: Path, name: str, group: bool, code: int) -> None:
    """Ctrl-C in a terminal signals the whole process group; cron's ``timeout`` signals
    docproc alone; a service manager signals the group. Each is one line, its shell code,
    no traceback, no leaked semaphores, no worker left, and what was committed is kept."""
    import json
    import signal
    import time

    log, summary, ledger = tmp_path / "run.log", tmp_path / "s.json", tmp_path / "r.ledger.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    # As from a terminal: a suite started in the background (`cmd &` in a script) has SIGINT
    # ignored, and a child inherits that, so Ctrl-C would never reach the run. A handled
    # SIGINT here is inherited as the default.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run = subprocess.Popen([DOCPROC, "run", str(many_cheques), "-o", str(tmp_path / "r.csv"), "--jobs", "2",
                                "--log-file", str(log), "--summary-json", str(summary), "--ledger", str(ledger)],
                               stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 300  # a loaded CI machine takes its time to load the model
    while time.monotonic() < deadline and not (log.exists() and ": committed" in log.read_text()):
        time.sleep(0.1)
    assert log.exists() and ": committed" in log.read_text(), "no file was committed in 300 s"
    number = getattr(signal, name)
    if group:
        os.killpg(run.pid, number)
    else:
        run.send_signal(number)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == code, stderr
    assert "Traceback" not in stderr and "leaked" not in stderr, stderr
    said = [line for line in stderr.splitlines() if line.startswith("docproc:")]
    assert len(said) == 1 and ("interrupted (Ctrl-C)" if code == 130 else "terminated (SIGTERM)") in said[0], stderr
    report = json.loads(summary.read_text())
    assert report["exit_code"] == code and "rerun to finish" in report["error_message"]
    committed = log.read_text().count(": committed")
    assert committed >= 1 and f"({report['pages']} pages)" in report["error_message"]
    # No worker outlives the run: the process group empties.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(run.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("a process of the run outlived it")


def test_an_unwritable_output_is_refused_before_any_work(scans: Path, tmp_path: Path) -> None:
    result = docproc("run", str(scans / "scans" / "zips"), "-o", str(tmp_path / "no" / "such" / "r.csv"))
    assert result.returncode == 7 and "does not exist" in result.stderr


def test_template_check_and_overlay(scans: Path, tmp_path: Path) -> None:
    overlay = tmp_path / "o.png"
    result = docproc("template", "check", str(scans / "templates" / "form.yaml"),
                     "--overlay", str(scans / "scans" / "forms" / "form-0001.pdf"), "-o", str(overlay))
    assert result.returncode == 0, result.stderr
    assert "valid, 4 fields" in result.stdout and overlay.stat().st_size > 10_000
    assert "fits the template" in result.stdout and "reference form" not in result.stdout

    # With the blank form as its reference: how well the scan correlates with it, and a
    # cheque is not that form.
    import cv2
    import numpy as np

    from samples.layouts import blank_form, form_layout

    cv2.imwrite(str(tmp_path / "blank.png"), blank_form(form_layout(), np.random.default_rng(1)))
    with_reference = tmp_path / "form.yaml"
    with_reference.write_text((scans / "templates" / "form.yaml").read_text() + "reference: blank.png\n")
    for scan, verdict in ((scans / "scans" / "forms" / "form-0001.pdf", ": aligned"),
                          (next((scans / "scans" / "cheques").iterdir()), ": not the form")):
        result = docproc("template", "check", str(with_reference), "--overlay", str(scan), "-o", str(overlay))
        assert result.returncode == 0, result.stderr
        assert "aligned to its reference form" in result.stdout
        assert "correlation with the reference form" in result.stdout and verdict in result.stdout, result.stdout
