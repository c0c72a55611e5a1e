"""The template's keys end to end through `docproc run`: fields on some pages only (and a
field on a page the document lacks), a blank optional field, a field's own review
threshold, an amount's value, an account number's check digit, and the reason column."""

from __future__ import annotations

from pathlib import Path

import pytest

from docproc.output.results import read_csv
from docproc.recognize.check_digits import passes
from samples.layouts import form_layout
from samples.pages import write_set
from tests.commands import docproc

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent



def _box(name: str) -> list[float]:
    layout = form_layout()
    width, height = layout.size
    x0, y0, x1, y1 = next(f.box for f in layout.fields if f.name == name)
    return [round(x0 / width, 4), round(y0 / height, 4), round(x1 / width, 4), round(y1 / height, 4)]


def test_template_keys_through_the_command(tmp_path: Path) -> None:
    write_set(tmp_path, cheques=3, forms=1, zips=0, seed=77)  # one form of two pages, three cheques
    template = tmp_path / "keys.yaml"
    template.write_text(
        "name: keys\n"
        "fields:\n"
        f"  - {{name: account, box: {_box('account')}, length: 10, check: luhn, pages: 1}}\n"
        f"  - {{name: phone, box: {_box('phone')}, length: 10, review_below: 0.0}}\n"
        f"  - {{name: amount, box: {_box('amount')}, length: [3, 7], type: amount, decimals: 2}}\n"
        f"  - {{name: zip, box: {_box('zip')}, length: 5, pages: '2-'}}\n"
        # Below the last field, where the form has no print and nobody wrote.
        "  - {name: note, box: [0.33, 0.70, 0.56, 0.75], length: [1, 5], optional: true}\n"
        f"  - {{name: late, box: {_box('zip')}, length: 5, pages: 3}}\n")
    checked = docproc("template", "check", str(template))
    assert checked.returncode == 0, checked.stderr
    assert "account: box" in checked.stdout and "check digit luhn, pages 1" in checked.stdout
    assert "note: box [0.33, 0.7, 0.56, 0.75], 1-5 digits, optional" in checked.stdout

    out = tmp_path / "r.csv"
    result = docproc("run", str(tmp_path / "scans" / "forms"), "--template", str(template), "-o", str(out))
    assert result.returncode == 0, result.stderr
    frame = read_csv(out)
    fields = [(int(r.page), r.field) for r in frame.itertuples()]
    assert fields == [(1, "account"), (1, "phone"), (1, "amount"), (1, "note"),
                      (2, "phone"), (2, "amount"), (2, "zip"), (2, "note"), (3, "late")]
    rows = {(int(r.page), r.field): r for r in frame.itertuples()}

    late = rows[(3, "late")]
    assert (late.status, late.text) == ("review", "")
    assert late.reason == "the document has 2 pages; the template's field is on page 3"
    for page in (1, 2):
        note = rows[(page, "note")]
        assert (note.status, note.text, note.reason, note.confidence) == ("ok", "", "", 1.0)
        # The phone's threshold is 0: it is review only where a rule is broken.
        phone = rows[(page, "phone")]
        assert phone.status == "ok" or "confidence under" not in phone.reason
        amount = rows[(page, "amount")]
        if amount.text and amount.status == "ok":
            assert amount.value == f"{int(amount.text)}.00"
    account = rows[(1, "account")]
    # The generated account numbers are random digits: most fail Luhn, and such a reading is never ok.
    assert account.status != "ok" or passes(account.text, "luhn")
    assert account.status == "ok" or account.reason
    assert all(r.reason for r in frame.itertuples() if r.status != "ok")
    assert not any(r.reason for r in frame.itertuples() if r.status == "ok")

    # Dates: the generated cheques' dates are random digits, mostly no date at all; each
    # row is a valid date with its ISO value, or review saying it is none.
    dates = tmp_path / "dates.yaml"
    dates.write_text((tmp_path / "templates" / "cheque.yaml").read_text().replace(
        "    length: 8\n", "    length: 8\n    type: date\n    order: DMY\n"))
    dated = docproc("run", str(tmp_path / "scans" / "cheques"), "--template", str(dates), "-o", str(tmp_path / "d.csv"))
    assert dated.returncode == 0, dated.stderr
    date_rows = [r for r in read_csv(tmp_path / "d.csv").itertuples() if r.field == "date"]
    assert len(date_rows) == 3
    for row in date_rows:
        if row.value:
            assert row.value == f"{row.text[4:]}-{row.text[2:4]}-{row.text[:2]}"
        else:
            assert row.status == "review" and "not a valid date (DMY)" in row.reason and row.confidence == 0

    # The same run with the template's pages and keys gone reads each field on both pages:
    # the keys are what changed the rows.
    plain = tmp_path / "plain.yaml"
    plain.write_text((tmp_path / "templates" / "form.yaml").read_text())
    again = docproc("run", str(tmp_path / "scans" / "forms"), "--template", str(plain), "-o", str(tmp_path / "p.csv"))
    assert again.returncode == 0, again.stderr
    assert len(read_csv(tmp_path / "p.csv")) == 8


def test_the_schema_command_prints_the_published_schema() -> None:
    result = docproc("template", "schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "docs" / "template.schema.json").read_text()
