"""The run ledger: which files a rerun reads, what it keeps, and that its rows round-trip exactly."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from docproc.config import RunOptions
from docproc.errors import LedgerError
from docproc.ingest.inputs import InputFile, discover
from docproc.layout.templates import load_template
from docproc.output.results import FieldResult
from docproc.run.fingerprint import reading_fingerprint
from docproc.run.job import Readers, run_job
from docproc.run.ledger import Fingerprint, InputRecord, Ledger, default_ledger_path
from docproc.run.plan import plan
from samples.pages import write_set

FP = Fingerprint("template", "model", "options")
HOUR_AGO_NS = time.time_ns() - 3600 * 10**9


def _inputs(folder: Path, contents: dict[str, bytes], mtime_ns: int | None = HOUR_AGO_NS) -> list[InputFile]:
    files = []
    for name, content in contents.items():
        path = folder / name
        path.write_bytes(content)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))
        files.append(InputFile(path=path, name=name))
    return files


def _commit_all(ledger: Ledger, files: list[InputFile], fingerprint: Fingerprint = FP, error: bool = False) -> None:
    for step in plan(files, ledger.records(), fingerprint, force=True):
        assert step.state is not None
        row = FieldResult(step.file.name, 1, "", "", status="error" if error else "ok")
        ledger.commit(InputRecord(step.key, step.file.name, step.state.size, step.state.mtime_ns, step.sha256,
                                  step.state.checked_ns, fingerprint, 1, error), [row])


def _actions(files: list[InputFile], ledger: Ledger, fingerprint: Fingerprint = FP, force: bool = False,
             ) -> dict[str, tuple[str, str]]:
    return {s.file.name: (s.action, s.reason) for s in plan(files, ledger.records(), fingerprint, force)}


def test_a_rerun_reads_new_and_changed_files_and_skips_the_rest(tmp_path: Path) -> None:
    files = _inputs(tmp_path, {"a.png": b"aaaa", "b.png": b"bbbb", "c.png": b"cccc"})
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert set(_actions(files, ledger).values()) == {("read", "new")}
        _commit_all(ledger, files)
        assert set(_actions(files, ledger).values()) == {("skip", "unchanged")}

        (tmp_path / "b.png").write_bytes(b"bbbb and more")  # new content, new size and time
        later = HOUR_AGO_NS + 60 * 10**9
        os.utime(tmp_path / "c.png", ns=(later, later))  # touched: same bytes, new time
        files += _inputs(tmp_path, {"d.png": b"dddd"})
        assert _actions(files, ledger) == {"a.png": ("skip", "unchanged"), "b.png": ("read", "changed"),
                                           "c.png": ("skip", "same content"), "d.png": ("read", "new")}
        # The touched file's new time is recorded, so the next run need not hash it again.
        steps = plan(files, ledger.records(), FP)
        c_step = next(s for s in steps if s.file.name == "c.png")
        assert c_step.state is not None
        ledger.restat(c_step.key, c_step.state.size, c_step.state.mtime_ns, c_step.state.checked_ns)
        assert ledger.records()[c_step.key].mtime_ns == later


def test_a_change_of_template_model_or_options_or_force_reads_everything(tmp_path: Path) -> None:
    files = _inputs(tmp_path, {"a.png": b"aaaa", "b.png": b"bbbb"})
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        _commit_all(ledger, files)
        assert set(_actions(files, ledger, Fingerprint("other", "model", "options")).values()) == \
            {("read", "template changed")}
        assert set(_actions(files, ledger, Fingerprint("template", "other", "options")).values()) == \
            {("read", "model changed")}
        assert set(_actions(files, ledger, Fingerprint("template", "model", "other")).values()) == \
            {("read", "reading options changed")}
        assert set(_actions(files, ledger, force=True).values()) == {("read", "--force")}
        assert set(_actions(files, ledger).values()) == {("skip", "unchanged")}


def test_files_that_gave_an_error_are_read_again(tmp_path: Path) -> None:
    # The error may have been passing: a file still being copied, a permission since fixed.
    files = _inputs(tmp_path, {"a.png": b"aaaa"})
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        _commit_all(ledger, files, error=True)
        assert _actions(files, ledger) == {"a.png": ("read", "had an error")}


def test_a_file_changed_within_its_mtime_tick_is_caught_by_its_hash(tmp_path: Path) -> None:
    # Written just now, so its time is too close to when it was examined to be trusted.
    files = _inputs(tmp_path, {"a.png": b"aaaa"}, mtime_ns=None)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        _commit_all(ledger, files)
        recorded = ledger.records()[os.path.abspath(files[0].path)]
        # Same size, same time to the nanosecond, other bytes: only the hash tells.
        (tmp_path / "a.png").write_bytes(b"AAAA")
        os.utime(tmp_path / "a.png", ns=(recorded.mtime_ns, recorded.mtime_ns))
        assert _actions(files, ledger) == {"a.png": ("read", "changed")}


def test_rows_round_trip_exactly(tmp_path: Path) -> None:
    rows = [FieldResult("x.png", 1, "cheque", "amount", "0120", 0.123456789012345, (0.5, 1 / 3, 0.999999, 2 / 7),
                        "review", "", (10, 20, 300, 40), "01.20", reason="confidence under 0.5", value="1.20"),
            FieldResult("x.png", 2, "cheque", "", status="error", error="page 2: cannot read ✗",
                        reason="file cannot be read")]
    files = _inputs(tmp_path, {"x.png": b"x"})
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        step = plan(files, {}, FP)[0]
        assert step.state is not None
        ledger.commit(InputRecord(step.key, "x.png", step.state.size, step.state.mtime_ns, step.sha256,
                                  step.state.checked_ns, FP, 2, True), rows)
        assert ledger.rows([step.key]) == {step.key: rows}
        # Committing a file again replaces its rows; it never adds to them.
        ledger.commit(InputRecord(step.key, "x.png", 1, 1, None, 1, FP, 1, False), rows[:1])
        assert ledger.rows([step.key]) == {step.key: rows[:1]}


@pytest.mark.parametrize("schema", [1, 2, 3, 4])
def test_a_ledger_of_an_older_schema_is_brought_up_to_date_keeping_its_rows(tmp_path: Path, schema: int) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    # A ledger as docproc wrote it before: schema 1 rows had no marks, schema 2 rows no part,
    # schema 3 rows no reason nor value, schema 4 rows no detail.
    marks_column = ", marks TEXT NOT NULL DEFAULT ''" if schema >= 2 else ""
    marks_value = ", '4.2'" if schema >= 2 else ""
    if schema >= 3:
        marks_column += ", part INTEGER NOT NULL DEFAULT 1"
        marks_value += ", 1"
    if schema >= 4:
        marks_column += ", reason TEXT NOT NULL DEFAULT '', value TEXT NOT NULL DEFAULT ''"
        marks_value += ", '', ''"
    old = sqlite3.connect(path)
    old.executescript(f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '{schema}');
        CREATE TABLE inputs (path TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER, mtime_ns INTEGER, sha256 TEXT,
            checked_ns INTEGER NOT NULL, template_hash TEXT NOT NULL, model_hash TEXT NOT NULL,
            options_hash TEXT NOT NULL, pages INTEGER NOT NULL, has_error INTEGER NOT NULL);
        CREATE TABLE rows (path TEXT NOT NULL REFERENCES inputs(path) ON DELETE CASCADE, seq INTEGER NOT NULL,
            page INTEGER NOT NULL, template TEXT NOT NULL, field TEXT NOT NULL, text TEXT NOT NULL,
            confidence REAL NOT NULL, digit_confidences TEXT NOT NULL, status TEXT NOT NULL, error TEXT NOT NULL,
            x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL{marks_column},
            PRIMARY KEY (path, seq));
        INSERT INTO inputs VALUES ('/s/a.png', 'a.png', 1, 1, NULL, 1, 't', 'm', 'o', 1, 0);
        INSERT INTO rows VALUES ('/s/a.png', 0, 1, '', 'digits-1', '42', 0.5, '[0.5, 1.0]', 'ok', '', 1, 2, 3, 4
                                 {marks_value});
    """)
    old.close()
    with Ledger(path) as ledger:
        assert ledger.rows(["/s/a.png"]) == {"/s/a.png": [
            FieldResult("a.png", 1, "", "digits-1", "42", 0.5, (0.5, 1.0), "ok", "", (1, 2, 3, 4),
                        "4.2" if schema >= 2 else "", part=1)]}
        split = FieldResult("b.png", 1, "", "digits-1", "7", 0.9, (0.9,), "review", "", (5, 6, 7, 8), "7", part=2,
                            reason="confidence under 0.95", value="7.00")
        ledger.commit(InputRecord("/s/b.png", "b.png", 1, 1, None, 1, FP, 1, False), [split])
        assert ledger.rows(["/s/b.png"]) == {"/s/b.png": [split]}
    with Ledger(path) as again:  # opened again: already current
        assert sorted(again.records()) == ["/s/a.png", "/s/b.png"]
    assert sqlite3.connect(path).execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("5",)


def test_a_damaged_ledger_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "results.csv.ledger.sqlite"
    path.write_bytes(b"this is not an SQLite database, it was overwritten by something else" * 20)
    with pytest.raises(LedgerError) as caught:
        Ledger(path)
    assert caught.value.exit_code == 10
    assert "move it aside" in caught.value.message and str(path) in caught.value.message


def test_the_template_fingerprint_follows_its_meaning_not_its_layout(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    text = "name: t\nfields:\n  - name: amount\n    box: [0.1, 0.1, 0.5, 0.3]\n    length: [1, 6]\n"
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text("# comments and spacing do not change readings\n" + text.replace(", ", ","))
    (tmp_path / "c.yaml").write_text(text.replace("0.5", "0.6"))
    (tmp_path / "d.yaml").write_text(text + "    marks: '.,'\n")
    import cv2
    import numpy as np

    form = np.full((60, 100), 240, np.uint8)
    cv2.rectangle(form, (10, 10), (50, 30), 0, 2)
    cv2.imwrite(str(tmp_path / "form.png"), form)
    (tmp_path / "e.yaml").write_text(text + "reference: form.png\n")
    model = tmp_path / "m.keras"
    model.write_bytes(b"weights")

    def fingerprint(name: str) -> Fingerprint:
        return reading_fingerprint(RunOptions(template=load_template(tmp_path / name)), [model])

    assert fingerprint("a.yaml") == fingerprint("b.yaml")
    assert fingerprint("a.yaml").template_hash != fingerprint("c.yaml").template_hash
    assert fingerprint("a.yaml").template_hash != fingerprint("d.yaml").template_hash
    with_reference = fingerprint("e.yaml").template_hash
    assert with_reference != fingerprint("a.yaml").template_hash
    cv2.rectangle(form, (60, 10), (90, 30), 0, 2)  # the form's image changed: so may its readings
    cv2.imwrite(str(tmp_path / "form.png"), form)
    assert fingerprint("e.yaml").template_hash != with_reference
    before = fingerprint("a.yaml")
    model.write_bytes(b"other weights")
    assert fingerprint("a.yaml").model_hash != before.model_hash
    assert reading_fingerprint(RunOptions(review_below=0.5), [model]).options_hash != \
        reading_fingerprint(RunOptions(review_below=0.9), [model]).options_hash
    assert reading_fingerprint(RunOptions(direct_pdf_scans=True), [model]).options_hash != \
        reading_fingerprint(RunOptions(), [model]).options_hash
    # Options added since ledgers were first written leave the hash of a run without them
    # as it was: only a new version of the reading code makes every file read again.
    from docproc.run import fingerprint as fingerprints

    before_the_option = hashlib.sha256(json.dumps([200, 300.0, False, 0.9, 150_000_000]).encode()).hexdigest()
    monkeypatch.setattr(fingerprints, "READING_VERSION", 1)
    assert reading_fingerprint(RunOptions(reader="segment"), [model]).options_hash == before_the_option
    # The default reader reads otherwise than the segmentation those ledgers read with.
    assert reading_fingerprint(RunOptions(), [model]).options_hash != before_the_option


def test_the_peers_beside_a_model_are_part_of_what_decides_readings(tmp_path: Path) -> None:
    from docproc.recognize.model_files import peers_path

    # What the default runtime reads: the twins (a reading install may have no .keras peers).
    model, check = tmp_path / "m.onnx", tmp_path / "check.onnx"
    model.write_bytes(b"weights")
    check.write_bytes(b"check")
    readers = Readers(model, check)
    alone = reading_fingerprint(RunOptions(), readers.model_files())
    peers = peers_path(model).with_suffix(".onnx")
    peers.write_bytes(b"peers")
    assert readers.model_files() == [model, check, peers]
    with_peers = reading_fingerprint(RunOptions(), readers.model_files())
    peers.write_bytes(b"other peers")
    assert len({alone.model_hash, with_peers.model_hash,
                reading_fingerprint(RunOptions(), readers.model_files()).model_hash}) == 3


@pytest.mark.slow
def test_reruns_keep_every_file_current_exactly_once(tmp_path: Path, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    write_set(tmp_path / "set", cheques=4, forms=0, zips=0, seed=515, formats=("png",))
    scans = tmp_path / "scans"
    (scans / "cheques").mkdir(parents=True)
    made = sorted((tmp_path / "set" / "scans" / "cheques").glob("*.png"))
    for path in made[:3]:
        shutil.copy(path, scans / "cheques" / path.name)
    options = RunOptions(template=load_template(tmp_path / "set" / "templates" / "cheque.yaml"))
    readers = Readers(shipped_classifier.path, shipped_classifier.check.path)
    loads = []

    def load():  # type: ignore[no-untyped-def]
        loads.append(1)
        return shipped_classifier

    def job(output: Path, force: bool = False, run_options: RunOptions = options):  # type: ignore[no-untyped-def]
        with Ledger(default_ledger_path(output)) as ledger:
            summary = run_job(discover([str(scans)]), run_options, ledger, output, readers, force, load=load)
        return summary, output.read_bytes()

    out = tmp_path / "results.csv"
    first, csv_first = job(out)
    assert (first.files, first.files_read, first.fields) == (3, 3, 6)

    again, csv_again = job(out)
    assert (again.files_read, again.pages, again.fields) == (0, 0, 6)
    assert csv_again == csv_first and len(loads) == 1  # nothing to read: the model is not even loaded

    # A new file arrives and another is replaced: those two are read, and the CSV is what a
    # fresh run over the folder as it now is would write.
    shutil.copy(made[3], scans / "cheques" / made[3].name)
    shutil.copy(made[0], scans / "cheques" / made[1].name)
    grown, csv_grown = job(out)
    assert grown.files_read == 2
    fresh, csv_fresh = job(tmp_path / "fresh.csv")
    assert csv_grown == csv_fresh and fresh.files_read == 4
    lines = csv_grown.decode().splitlines()
    assert len(lines) == 1 + 8 and len(set(lines)) == len(lines)  # each file's rows once

    changed_options, _ = job(out, run_options=RunOptions(template=options.template, review_below=0.5))
    assert changed_options.files_read == 4
    forced, _ = job(out, force=True)
    assert forced.files_read == 4

    # A file gone from the folder leaves the CSV (its rows stay in the ledger).
    (scans / "cheques" / made[0].name).unlink()
    shrunk, csv_shrunk = job(out)
    assert shrunk.files_read == 0 and shrunk.files == 3
    assert made[0].name not in csv_shrunk.decode() and len(csv_shrunk.decode().splitlines()) == 1 + 6
