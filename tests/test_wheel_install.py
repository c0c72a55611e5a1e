"""docproc installed from its wheel (not editable) reads as the source tree does: the
shipped models and the review station's page travel as package data, and nothing but
``docproc`` is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PYTHON", "VIRTUAL_ENV", "DOCPROC_"))}
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_a_wheel_install_reads_a_sample_from_another_folder(tmp_path: Path) -> None:
    # Built from a copy of what the wheel is made of, so that setuptools' build/ folder
    # (which keeps files deleted since) is not left in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "docproc", source / "docproc", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source),
                 "-w", str(wheels))
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("docproc-*.whl")

    # A fresh environment that holds the wheel alone; its dependencies are this one's (a
    # .pth line adds their folder to the path without running the editable install's hooks).
    fresh = tmp_path / "fresh"
    assert _run(sys.executable, "-m", "venv", "--without-pip", str(fresh)).returncode == 0
    python = fresh / "bin" / "python"
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel))
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(str(python), "-c", "import docproc, importlib.util as u; print(docproc.__file__); "
                 "from docproc.recognize.model_files import SHIPPED_MODEL; print(SHIPPED_MODEL); "
                 "print(u.find_spec('training'), u.find_spec('samples'), u.find_spec('benchmarks'))", cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    module, model, others = where.stdout.splitlines()
    assert Path(module).is_relative_to(fresh) and Path(model).is_relative_to(fresh) and Path(model).is_file()
    assert others == "None None None"
    # The review station's page travels as package data too.
    page = _run(str(python), "-c", "from importlib import resources; f = resources.files('docproc.review'); "
                "print(all(f.joinpath('static', n).is_file() for n in ('station.html', 'station.js', 'station.css')))",
                cwd=elsewhere)
    assert page.stdout.strip() == "True", page.stdout + page.stderr

    scans, template = ROOT / "samples" / "scans" / "cheques", ROOT / "samples" / "templates" / "cheque.yaml"
    run = _run(str(fresh / "bin" / "docproc"), "run", str(scans), "--template", str(template), "-o", "r.csv",
               cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    card = _run(str(fresh / "bin" / "docproc"), "model", cwd=elsewhere)
    assert card.returncode == 0 and "digits-cnn.keras" in card.stdout, card.stdout + card.stderr

    # The same rows as the source tree's own install gives.
    tree = _run(sys.executable, "-m", "docproc.cli", "run", str(scans), "--template", str(template),
                "-o", str(tmp_path / "source.csv"), cwd=ROOT)
    assert tree.returncode == 0, tree.stderr
    assert (elsewhere / "r.csv").read_bytes() == (tmp_path / "source.csv").read_bytes()
