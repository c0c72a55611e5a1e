"""The Python API: the README's example runs as written, a Reader keeps its models and
reads as the command does, and bad options and inputs say what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import docproc
from docproc.errors import MissingInputError, TemplateError
from docproc.output.results import write_csv

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_the_readme_example_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text()
    example = readme.split("### Python\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    result = subprocess.run([sys.executable, "-c", example], cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 8 + 2  # the 4 cheques' 8 fields, the count, one row
    assert lines[0].startswith("cheque-0001.jpg 1 date ")
    assert lines[8].endswith("of 8 form fields ok")
    assert lines[9].startswith("{'file': 'form-0001.pdf', 'page': 1")


def test_a_reader_keeps_its_models_and_reads_as_the_command_does(tmp_path: Path) -> None:
    from samples.pages import write_set

    write_set(tmp_path, cheques=2, forms=0, zips=2, seed=9)
    scans = tmp_path / "scans"
    out = tmp_path / "r.csv"
    command = subprocess.run([sys.executable, "-m", "docproc.cli", "run", str(scans / "cheques"), "--template",
                              str(tmp_path / "templates" / "cheque.yaml"), "-o", str(out)],
                             capture_output=True, text=True, timeout=600)
    assert command.returncode == 0, command.stderr
    reader = docproc.Reader(tmp_path / "templates" / "cheque.yaml")
    rows = list(reader.read(scans / "cheques"))
    write_csv(rows, tmp_path / "api.csv")
    assert (tmp_path / "api.csv").read_bytes() == out.read_bytes()
    classifier = reader.classifier()
    zips = list(reader.read([scans / "zips"], template=None))
    assert reader.classifier() is classifier  # loaded once
    assert {r.template for r in zips} == {""} and len(zips) == 2


def test_bad_options_and_inputs_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown option 'reveiw_below' \\(did you mean 'review_below'\\?\\)"):
        docproc.Reader(reveiw_below=0.5)
    with pytest.raises(ValueError, match="reader must be one of both, segment, sequence"):
        docproc.Reader(reader="glyphs")
    with pytest.raises(MissingInputError, match="does not exist"):
        list(docproc.read(tmp_path / "absent"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfields: []\n")
    with pytest.raises(TemplateError):
        docproc.Reader(bad)
    assert isinstance(TemplateError("x"), docproc.DocprocError)
