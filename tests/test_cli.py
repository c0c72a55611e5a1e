"""The command line, end to end, through the installed console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from samples.generate import write_digit_crops

DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # As a user runs it: no TensorFlow logging variables set.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    return subprocess.run([DOCPROC, *args], capture_output=True, text=True, env=env, timeout=300)


def test_model_prints_the_card() -> None:
    result = run("model")
    assert result.returncode == 0, result.stderr
    assert "test         accuracy" in result.stdout
    assert "confusion matrix" in result.stdout
    # What reads beside it, from their cards: the single-digit check, and the peers when a
    # bundle lies beside it (none since the model of many hands: they are not retrained yet).
    assert "peers         none (no digits-cnn.peers.keras beside the model)" in result.stdout
    assert "single-digit  single-digit.keras" in result.stdout
    assert "sequence      sequence-ctc.keras  (sha256" in result.stdout and "real cheque amounts" in result.stdout
    # The card's figure on each test set.
    assert "held-out fonts" in result.stdout and "optdigits windep" in result.stdout


def test_model_names_missing_companions(tmp_path: Path) -> None:
    from docproc.recognize.cards import format_companions
    from docproc.recognize.model_files import SHIPPED_MODEL, card_path, peers_path

    alone = tmp_path / "mine.keras"
    shutil.copy(SHIPPED_MODEL, alone)
    shutil.copy(card_path(SHIPPED_MODEL), card_path(alone))
    assert "peers         none (no mine.peers.keras beside the model)" in format_companions(alone)
    shutil.copy(SHIPPED_MODEL, peers_path(alone))  # a one-member bundle, with no card
    assert "mine.peers.keras: no card; write one with `python -m training.peers --card-only`" in format_companions(alone)


def test_model_with_a_missing_file_exits_5(tmp_path: Path) -> None:
    result = run("model", "--model", str(tmp_path / "none.keras"))
    assert result.returncode == 5
    assert "No model card" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_classify_reads_scanned_test_digits(tmp_path: Path) -> None:
    written = write_digit_crops(tmp_path, count=40, seed=11)
    result = run("classify", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert len(lines) == 40
    predicted = {Path(path).name: digit for path, digit, _ in lines}
    right = sum(predicted[name] == str(label) for name, label in written)
    assert right >= 38, f"{right}/40 right"
    assert all(0.0 <= float(conf) <= 1.0 for _, _, conf in lines)
    assert result.stderr == "", "backend start-up chatter leaked to stderr"


@pytest.mark.slow
def test_classify_reports_an_unreadable_file_and_goes_on(tmp_path: Path) -> None:
    write_digit_crops(tmp_path, count=3, seed=12)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "empty.png").write_bytes(b"")
    result = run("classify", str(tmp_path))
    assert result.returncode == 3
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    errors = [r for r in rows if r[1] == "error"]
    assert {Path(r[0]).name for r in errors} == {"broken.png", "empty.png"}
    assert len(rows) - len(errors) == 3
    assert "Traceback" not in result.stderr


def test_classify_a_missing_input_exits_12(tmp_path: Path) -> None:
    result = run("classify", str(tmp_path / "nowhere"))
    assert result.returncode == 12
    assert "does not exist" in result.stderr


def test_ink_from_grey_handles_light_on_dark() -> None:
    from docproc.ingest.crop_files import ink_from_grey

    grey = np.full((40, 40), 230, np.uint8)
    grey[10:30, 18:22] = 30
    dark_paper = 255 - grey
    assert np.array_equal(ink_from_grey(grey) > 0.5, ink_from_grey(dark_paper) > 0.5)


@pytest.mark.parametrize("args, message", [
    (["run", "--bogus", "x"], "docproc: error: No such option '--bogus'"),
    (["runn"], "docproc: error: No such command 'runn'. Did you mean 'run'?"),
    (["run", "x", "-o", "r.csv", "--review-below", "3"], "docproc: error: Invalid value for '--review-below'"),
    (["run", "-o", "r.csv"], "docproc: error: Missing argument 'INPUTS...'"),
])
def test_usage_errors_read_like_docproc_errors_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert "--help" in result.stderr and "Usage:" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_options_from_the_environment_and_verbosity_after_the_command(tmp_path: Path) -> None:
    from samples.pages import write_set

    write_set(tmp_path, cheques=2, forms=0, zips=0, seed=5)
    scans, template = tmp_path / "scans" / "cheques", tmp_path / "templates" / "cheque.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env |= {"DOCPROC_RUN_REVIEW_BELOW": "1", "DOCPROC_RUN_JOBS": "1", "DOCPROC_RUN_TEMPLATE": str(template)}
    out = tmp_path / "r.csv"
    # -v after the command, -j, and the old name of --max-megapixels all work.
    result = subprocess.run([DOCPROC, "run", str(scans), "-o", str(out), "-v", "--max-pixels", "150"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "docproc: INFO:" in result.stderr  # -v after the command
    from docproc.output.results import read_csv

    frame = read_csv(out)
    assert set(frame["template"]) == {"cheque"}  # --template from DOCPROC_RUN_TEMPLATE
    assert set(frame["status"]) == {"review"} and all(frame["reason"].str.startswith("confidence under 1"))
    # The command line wins over the environment; -q leaves errors alone on stderr.
    again = subprocess.run([DOCPROC, "run", str(scans), "-o", str(out), "--review-below", "0", "-j", "2", "-q",
                            "--force"], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert set(read_csv(out)["status"]) == {"ok"}


def test_run_help_groups_its_options() -> None:
    result = run("run", "--help")
    assert result.returncode == 0
    titles = [line for line in result.stdout.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert titles[:5] == ["Input:", "Reading:", "Output:", "Job control:", "Messages:"]
    assert "--max-megapixels, --max-pixels" in result.stdout and "-j, --jobs" in result.stdout
