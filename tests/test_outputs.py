"""The outputs beyond the CSV, end to end through the command: JSON Lines with the same
rows and their detail (page size and resolution, digit boxes, n best readings), results
on standard output without a ledger, and an output name that promises another format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docproc.output.results import read_csv
from samples.pages import write_set
from tests.commands import docproc

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("set")
    write_set(out, cheques=3, forms=1, zips=0, seed=2718)
    return out



def test_json_lines_hold_the_csv_rows_and_their_detail(scans: Path, tmp_path: Path) -> None:
    args = [str(scans / "scans" / "cheques"), "--template", str(scans / "templates" / "cheque.yaml")]
    assert docproc("run", *args, "-o", str(tmp_path / "r.csv")).returncode == 0
    result = docproc("run", *args, "-o", str(tmp_path / "r.jsonl"))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    frame = read_csv(tmp_path / "r.csv")
    assert len(records) == len(frame) == 6
    for record, row in zip(records, frame.to_dict("records")):
        for key in ("file", "page", "part", "template", "field", "text", "marks", "value", "status", "reason",
                    "error"):
            assert record[key] == row[key], key
        assert f"{record['confidence']:.4f}" == f"{row['confidence']:.4f}"
        assert " ".join(f"{c:.4f}" for c in record["digit_confidences"]) == row["digit_confidences"]
        assert record["box"] == {"x": row["x"], "y": row["y"], "w": row["w"], "h": row["h"]}
        assert record["page_size"] == {"width": 1200, "height": 550} and record["dpi"] > 0
        # One box a digit, inside the field; the sure ones are the glyphs the segmentation read.
        assert len(record["digit_boxes"]) == len(record["text"])
        for box in filter(None, record["digit_boxes"]):
            assert 0 <= box["x"] and box["x"] + box["w"] <= record["box"]["w"] + 2
            assert 0 <= box["y"] and box["y"] + box["h"] <= record["box"]["h"] + 2
        lefts = [box["x"] for box in record["digit_boxes"] if box]
        assert lefts == sorted(lefts)
        readers = {a["reader"] for a in record["alternatives"]}
        assert readers == {"segment", "sequence"}  # the default reads both ways
        assert all(0 <= a["probability"] <= 1 for a in record["alternatives"])
        assert record["text"] in {a["text"] for a in record["alternatives"]}
    # The same run again gives the same bytes (from the ledger's detail, not read again).
    again = docproc("run", *args, "-o", str(tmp_path / "r.jsonl"))
    assert again.returncode == 0 and "0 read, 3 unchanged" in again.stderr
    assert (tmp_path / "r.jsonl").read_text().splitlines() == lines


def test_results_on_standard_output_and_no_ledger(scans: Path, tmp_path: Path) -> None:
    args = [str(scans / "scans" / "forms"), "--template", str(scans / "templates" / "form.yaml")]
    written = docproc("run", *args, "-o", str(tmp_path / "r.csv"))
    assert written.returncode == 0
    shown = docproc("run", *args, "-o", "-", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == (tmp_path / "r.csv").read_text()
    assert "-> standard output" in shown.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.csv.ledger.sqlite", "r.csv.ledger.sqlite.lock",
                                                           "r.csv.lock"]  # nothing named '-', no ledger for it
    jsonl = docproc("run", *args, "-o", "-", "--format", "jsonl", "-q", cwd=tmp_path)
    assert jsonl.returncode == 0 and jsonl.stderr == ""
    assert [json.loads(line)["field"] for line in jsonl.stdout.splitlines()] == list(read_csv(tmp_path / "r.csv")["field"])


def test_an_output_named_for_another_format_is_refused_before_any_work(scans: Path, tmp_path: Path) -> None:
    result = docproc("run", str(scans / "scans" / "cheques"), "-o", str(tmp_path / "r.json"))
    assert result.returncode == 7
    assert "docproc writes CSV (.csv) and JSON Lines (.jsonl, .ndjson)" in result.stderr
    assert not list(tmp_path.iterdir())
    forced = docproc("run", str(scans / "scans" / "cheques"), "-o", str(tmp_path / "r.json"), "--format", "jsonl",
                     "--reader", "segment")
    assert forced.returncode == 0, forced.stderr
    first = json.loads((tmp_path / "r.json").read_text().splitlines()[0])
    assert {a["reader"] for a in first["alternatives"]} <= {"segment"}
