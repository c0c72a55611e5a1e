"""A corpus of broken and hostile inputs through the real command: each file gets an
`error` row that says what is wrong, or the right reading; the batch always completes."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from docproc.output.results import read_csv
from samples.pages import write_set

DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
pytestmark = pytest.mark.slow


def _corpus(folder: Path, good: Path) -> dict[str, str]:
    """Write the corpus into ``folder``; returns file name -> what its row must say
    ("read" for a file that must read exactly like the good cheque)."""
    grey = cv2.imread(str(good), cv2.IMREAD_GRAYSCALE)
    png, jpeg = good.read_bytes(), cv2.imencode(".jpg", grey)[1].tobytes()
    Image.fromarray(grey).save(folder / "whole.tif")
    tiff = (folder / "whole.tif").read_bytes()
    Image.fromarray(grey).save(folder / "whole.pdf", resolution=200.0)
    pdf = (folder / "whole.pdf").read_bytes()
    for name in ("whole.tif", "whole.pdf"):
        (folder / name).unlink()
    expected = {}
    for name, content, says in [
        ("zero.png", b"", "empty file"), ("zero.pdf", b"", "empty file"),
        ("truncated.png", png[: len(png) // 2], "cannot decode image"),
        ("truncated.jpg", jpeg[: len(jpeg) // 2], "cannot decode image"),
        ("truncated.tif", tiff[: len(tiff) // 2], "cannot decode image"),
        ("truncated.pdf", pdf[: len(pdf) // 2], "cannot read PDF"),
        ("letter.pdf", b"Dear customer, this is not a PDF.\n", "not a PDF, PNG, JPEG, BMP or TIFF"),
    ]:
        (folder / name).write_bytes(content)
        expected[name] = says
    from pypdf import PdfWriter

    locked = PdfWriter(clone_from=io.BytesIO(pdf))
    locked.encrypt(user_password="secret", owner_password="bank", algorithm="RC4-128")  # RC4: no extra crypto library
    locked.write(folder / "encrypted.pdf")
    expected["encrypted.pdf"] = "It is encrypted: save an unprotected copy"
    Image.new("1", (30000, 30000)).save(folder / "bomb.png", optimize=True)
    expected["bomb.png"] = "decompression bomb"
    for name, image in [("one-pixel.png", Image.new("L", (1, 1), 255)), ("blank.png", Image.new("L", (1200, 550), 240)),
                        ("black.png", Image.new("L", (1200, 550), 0))]:
        image.save(folder / name)
        expected[name] = "no digits"
    for name, image in [("sixteen-bit.png", Image.fromarray(grey.astype(np.uint16) * 257)),
                        ("cmyk.jpg", Image.fromarray(grey).convert("CMYK")),
                        ("palette.png", Image.fromarray(grey).convert("P")),
                        ("alpha.png", Image.fromarray(grey).convert("RGBA")),
                        ("name with spaces é ü.png", Image.fromarray(grey))]:
        image.save(folder / name, **({"quality": 95} if name.endswith(".jpg") else {}))
        expected[name] = "read"
    os.symlink("loop.png", folder / "loop.png")
    expected["loop.png"] = "cannot read: Too many levels of symbolic links"
    os.symlink("moved-away.png", folder / "dangling.png")
    expected["dangling.png"] = "a symbolic link to moved-away.png, which does not exist"
    os.symlink(".", folder / "again")  # a folder loop: must not be walked forever
    os.mkfifo(folder / "pipe.png")  # opening it would wait for a writer forever
    expected["pipe.png"] = "not a regular file"
    return expected


def test_every_hostile_file_gets_an_error_row_or_the_right_reading(tmp_path: Path) -> None:
    write_set(tmp_path / "set", cheques=1, forms=0, zips=0, seed=777, formats=("png",))
    good = tmp_path / "set" / "scans" / "cheques" / "cheque-0001.png"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    expected = _corpus(corpus, good)
    shutil.copy(good, corpus / "good.png")
    template = tmp_path / "set" / "templates" / "cheque.yaml"
    out = tmp_path / "out.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    summary, log = tmp_path / "summary.json", tmp_path / "run.log"
    result = subprocess.run([DOCPROC, "run", str(corpus), "--template", str(template), "-o", str(out),
                             "--summary-json", str(summary), "--log-file", str(log)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 3, result.stderr  # partial failure: some files could not be read
    assert "Traceback" not in result.stderr
    # Monitoring reads the summary; the log and stderr name the file and page of each failure.
    counts = json.loads(summary.read_text())
    failures = sum(1 for says in expected.values() if says not in ("read", "no digits"))
    assert counts["exit_code"] == 3 and counts["failed_files"] == counts["error"] == failures
    assert counts["files"] == len(expected) + 1
    logged = log.read_text()
    # Absolute paths, so a cron mail says where each file is; a file is logged once committed.
    assert f"WARNING {corpus / 'bomb.png'} page 1: page is 30000 x 30000 pixels" in logged
    assert f"INFO {corpus / 'good.png'}: committed, 1 pages, 2 rows" in logged
    assert f"WARNING: {corpus / 'encrypted.pdf'} page 1: cannot read PDF" in result.stderr
    rows = read_csv(out)
    good_reading = rows[rows["file"] == "good.png"][["field", "text"]].values.tolist()
    assert len(good_reading) == 2 and all(text for _, text in good_reading)
    for name, says in expected.items():
        mine = rows[rows["file"] == name]
        assert len(mine), f"{name}: no row"
        if says == "read":
            assert mine[["field", "text"]].values.tolist() == good_reading, name
        elif says == "no digits":
            assert set(mine["status"]) == {"review"} and set(mine["text"]) == {""}, name
        else:
            assert list(mine["status"]) == ["error"] and says in mine["error"].iloc[0], (name, mine["error"].iloc[0])
    assert "again" not in " ".join(rows["file"])


def test_a_file_over_its_time_limit_gets_an_error_row_and_the_run_goes_on(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    import time

    from docproc.config import RunOptions
    from docproc.ingest.inputs import discover
    from docproc.recognize.loading import load_classifier
    from docproc.run import pipeline, prepare

    write_set(tmp_path, cheques=3, forms=0, zips=0, seed=778, formats=("png",))
    files = discover([str(tmp_path / "scans" / "cheques")], root=tmp_path / "scans")
    real_page_fields = prepare.page_fields

    def slow_on_the_second(page, template, split_documents=False):  # type: ignore[no-untyped-def]
        slow_on_the_second.calls += 1
        if slow_on_the_second.calls == 2:
            time.sleep(5)
        return real_page_fields(page, template, split_documents)

    slow_on_the_second.calls = 0
    monkeypatch.setattr(prepare, "page_fields", slow_on_the_second)
    from docproc.layout.templates import load_template

    options = RunOptions(template=load_template(tmp_path / "templates" / "cheque.yaml"), file_timeout=1.0)

    def no_semaphores(jobs: int) -> None:
        raise OSError(38, "Function not implemented")

    # With a time limit files are read in a worker process (tests/test_workers.py); where
    # none can start, the file's own timer holds here too.
    monkeypatch.setattr(pipeline, "start_pool", no_semaphores)
    rows, _ = pipeline.run_all(files, load_classifier(), options)
    # The second file sleeps 5 s in a 1 s limit: it ends as an error row, the others are read.
    assert [r.file for r in rows if r.status == "error"] == ["cheques/cheque-0002.png"]
    assert "stopped after 1 s (--file-timeout)" in rows[2].error
    assert [r.file for r in rows if r.status != "error"] == ["cheques/cheque-0001.png"] * 2 + ["cheques/cheque-0003.png"] * 2
