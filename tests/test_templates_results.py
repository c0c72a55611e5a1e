"""Template validation and the results CSV."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docproc.errors import DiskFullError, OutputError, TemplateError
from docproc.layout.templates import load_template
from docproc.output.results import COLUMNS, FieldResult, check_writable, read_csv, read_rows, render, write_csv

GOOD = """
name: cheque
fields:
  - name: amount
    box: [0.76, 0.32, 0.99, 0.50]
    length: [1, 9]
    pattern: '^\\d+$'
  - name: date
    box: [0.70, 0.08, 0.98, 0.20]
    length: 8
"""


def test_a_template_with_only_the_contract_keys_loads(tmp_path: Path) -> None:
    path = tmp_path / "cheque.yaml"
    path.write_text(GOOD)
    template = load_template(path)
    assert template.name == "cheque"
    amount, date = template.fields
    assert amount.box == (0.76, 0.32, 0.99, 0.50) and (amount.min_length, amount.max_length) == (1, 9)
    assert amount.pattern is not None and amount.pattern.fullmatch("123")
    assert (date.min_length, date.max_length) == (8, 8) and date.pattern is None
    assert amount.marks == date.marks == ""  # no marks unless the template says


def test_a_field_may_list_the_marks_it_allows(tmp_path: Path) -> None:
    path = tmp_path / "amounts.yaml"
    path.write_text("name: t\nfields:\n  - {name: a, box: [0.1, 0.1, 0.4, 0.2], length: [1, 9], marks: ',.'}\n")
    # Kept in the contract's order of marks, whatever order the template gives.
    assert load_template(path).fields[0].marks == ".,"


@pytest.mark.parametrize(
    "fields, message",
    [
        ("- {name: a, box: [10, 20, 300, 400], length: 3}", "field 'a': 'box'.*fractions"),
        ("- {name: a, box: [0.5, 0.1, 0.4, 0.2], length: 3}", "left < right"),
        ("- {name: a, box: [0.1, 0.1, 0.4], length: 3}", "'box' must be"),
        ("- {name: a, box: [0.1, 0.1, 0.4, 0.2]}", "field 'a': 'length' is missing"),
        ("- {name: a, box: [0.1, 0.1, 0.4, 0.2], length: [5, 2]}", "min <= max"),
        ("- {name: a, box: [0.1, 0.1, 0.4, 0.2], length: 2, pattern: '(['}", "not a valid regular expression"),
        ("- {name: a, box: [0.1, 0.1, 0.4, 0.2], length: 2}\n  - {name: a, box: [0.1, 0.3, 0.4, 0.4], length: 2}", "used twice"),
        ("- {box: [0.1, 0.1, 0.4, 0.2], length: 2}", "field 1: 'name'"),
        ("- {name: a, box: [0.1, 0.1, 0.4, 0.2], length: 2, marks: '.;'}", "field 'a': 'marks' must be.*'.;'"),
        ("- {name: a, box: [0.1, 0.1, 0.4, 0.2], length: 2, marks: [',']}", "'marks' must be a string"),
    ],
)
def test_bad_templates_are_refused_with_file_field_and_reason(tmp_path: Path, fields: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: t\nfields:\n  {fields}\n")
    with pytest.raises(TemplateError, match=message) as info:
        load_template(path)
    assert str(path) in str(info.value)


def test_a_template_may_name_an_image_of_its_blank_form(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from samples.layouts import blank_form, cheque_layout

    layout = cheque_layout()
    (tmp_path / "forms").mkdir()
    cv2.imwrite(str(tmp_path / "forms" / "blank.png"), blank_form(layout, np.random.default_rng(1)))
    path = tmp_path / "cheque.yaml"
    path.write_text(layout.template_yaml() + "reference: forms/blank.png\n")  # relative to the template's folder
    template = load_template(path)
    assert template.reference is not None and template.reference.dtype == bool
    assert template.reference.shape == (layout.size[1], layout.size[0]) and 0.01 < template.reference.mean() < 0.3
    assert len(template.reference_sha256) == 64
    plain = tmp_path / "plain.yaml"
    plain.write_text(layout.template_yaml())
    assert load_template(plain).reference is None

    for value, message in (("forms/absent.png", "cannot read .*absent.png"), ("cheque.yaml", "not an image"),
                           ("''", "must be the path of an image")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(layout.template_yaml() + f"reference: {value}\n")
        with pytest.raises(TemplateError, match=f"{bad}.*\\n  - line 9, column 1: 'reference' .*{message}"):
            load_template(bad)
    white = tmp_path / "white.png"
    cv2.imwrite(str(white), np.full((100, 200), 255, np.uint8))
    (tmp_path / "white.yaml").write_text(layout.template_yaml() + "reference: white.png\n")
    with pytest.raises(TemplateError, match="holds no printed ink"):
        load_template(tmp_path / "white.yaml")


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(TemplateError, match="not valid YAML"):
        load_template(bad)
    with pytest.raises(TemplateError, match="cannot read template"):
        load_template(tmp_path / "absent.yaml")


def test_csv_round_trip_keeps_leading_zeros_and_columns(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    rows = [
        FieldResult("a/b.png", 1, "zip", "digits-1", "02139", 0.91234, (0.99, 0.95, 0.98, 0.99, 0.99), "ok", "", (1, 2, 3, 4),
                    "02.139"),
        FieldResult("c.pdf", 0, "", "", status="error", error="cannot read PDF"),
    ]
    write_csv(rows, out)
    frame = read_csv(out)
    assert list(frame.columns) == COLUMNS
    assert frame.loc[0, "text"] == "02139" and frame.loc[0, "confidence"] == pytest.approx(0.9123)
    assert frame.loc[0, "marks"] == "02.139" and frame.loc[1, "marks"] == ""
    assert frame.loc[0, "digit_confidences"] == "0.9900 0.9500 0.9800 0.9900 0.9900"
    assert frame.loc[1, "status"] == "error" and frame.loc[1, "error"] == "cannot read PDF"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# Text a field, file name or error message may hold: commas, quotes, line ends, spaces at
# either end, non-ASCII.
AWKWARD_TEXT = st.text(alphabet=st.sampled_from(list('0123456789 ,;"\'\n\r\tab.é€/')), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(AWKWARD_TEXT, AWKWARD_TEXT, AWKWARD_TEXT, st.integers(0, 5000),
                          st.floats(0, 1, allow_nan=False)), max_size=6))
def test_the_csv_is_written_byte_for_byte_as_pandas_wrote_it(rows: list[tuple[str, str, str, int, float]]) -> None:
    """The results are written with the csv module so that reading needs no pandas; the
    bytes must stay those pandas' to_csv wrote (ledgers, diffs and users' parsers rely on
    them), and read back as written."""
    results = [FieldResult(file=name, page=1, template="t", field=field, text=text, confidence=confidence,
                           digit_confidences=(confidence,) * len(text), error=name, box=(x, 0, x + 1, 2))
               for name, field, text, x, confidence in rows]
    written = render(results, "csv")
    frame = pd.DataFrame([r.row() for r in results], columns=COLUMNS)
    assert written == frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def test_review_reads_the_csv_as_it_is_spelled(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_csv([FieldResult("a, \"b\".png", 1, "t", "zip", "00701", 0.9, (0.9, 1.0, 0.5, 0.25, 1.0),
                           error="line one\nline two")], path)
    columns, rows = read_rows(path)
    assert columns == COLUMNS
    assert rows[0]["file"] == 'a, "b".png' and rows[0]["text"] == "00701" and rows[0]["confidence"] == "0.9000"
    assert rows[0]["error"] == "line one\nline two" and rows[0]["digit_confidences"].split()[-1] == "1.0000"


def test_unwritable_outputs_are_caught_before_work(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        check_writable(tmp_path / "nowhere" / "r.csv")
    with pytest.raises(OutputError, match="is a folder"):
        check_writable(tmp_path)


def test_a_full_disk_is_refused_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from docproc.output import results

    real = shutil.disk_usage
    monkeypatch.setattr(results.shutil, "disk_usage", lambda folder: real(folder)._replace(free=12 * 1024))
    with pytest.raises(OutputError, match="is full \\(12 KiB free\\); free some space"):
        check_writable(tmp_path / "r.csv")


def test_a_full_disk_while_writing_leaves_the_old_results_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from docproc.output import atomic

    out = tmp_path / "results.csv"
    out.write_text("the previous run's results\n")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(DiskFullError, match=r"the disk is full \(No space left on device\); any earlier version "
                                            "of the file is left as it was; free some space"):
        write_csv([FieldResult("a.png", 1, "", "digits-1", "12", 0.9, (0.95, 0.95))], out)
    assert out.read_text() == "the previous run's results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]  # no temporary file left behind


def test_an_atomic_write_syncs_the_file_then_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stat

    from docproc.output import atomic

    synced: list[str] = []
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", recording)
    atomic.write_atomically(tmp_path / "summary.json", b"{}\n")
    # The file's bytes before the rename, the folder (holding the rename) after it.
    assert synced == ["file", "folder"] and (tmp_path / "summary.json").read_bytes() == b"{}\n"
