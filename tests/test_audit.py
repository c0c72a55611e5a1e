"""Accuracy audits: every figure recomputed on a small case whose answers are worked out
by hand in the comments, and bad input refused with the file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docproc.audit import scores, tables
from docproc.errors import AuditInputError

HEADER = "file,page,template,field,text,confidence,digit_confidences,status,error,x,y,w,h\n"
RESULTS = HEADER + (
    "a.png,1,cheque,amount,123,0.9900,0.99 1.0 1.0,ok,,0,0,10,10\n"      # right
    "a.png,1,cheque,date,457,0.8000,0.9 0.9 0.99,review,,0,0,10,10\n"    # 4567: the 6 missed
    "b.png,1,cheque,amount,88,0.9500,0.97 0.98,ok,,0,0,10,10\n"          # 89: 9 read as 8
    "c.pdf,2,cheque,,,0.0000,,error,page 2: broken,0,0,0,0\n"           # covers c.pdf page 2
    "d.png,1,cheque,amount,10,0.6000,0.7 0.86,review,,0,0,10,10\n"      # right
    "e.png,1,cheque,amount,7,0.5000,0.5,ok,,0,0,10,10\n"                # no truth: extra
)
TRUTH = "file,page,field,text\na.png,1,amount,123\na.png,1,date,4567\nb.png,1,amount,89\nc.pdf,2,zip,55555\nd.png,1,amount,10\n"


def write(tmp_path: Path, results: str = RESULTS, truth: str = TRUTH) -> tuple[Path, Path]:
    (tmp_path / "results.csv").write_text(results)
    (tmp_path / "truth.csv").write_text(truth)
    return tmp_path / "results.csv", tmp_path / "truth.csv"


def test_alignment_counts_a_missed_or_extra_digit_once() -> None:
    assert scores.aligned_digits("4567", "457") == [(4, 4), (5, 5), (6, 10), (7, 7)]
    assert scores.aligned_digits("89", "88") == [(8, 8), (9, 8)]
    assert scores.aligned_digits("12", "132") == [(1, 1), (10, 3), (2, 2)]


def test_every_figure_on_a_hand_checked_case(tmp_path: Path) -> None:
    results, truth = write(tmp_path)
    table = tables.load([results], truth)
    assert table.fields["outcome"].tolist() == ["right", "wrong", "wrong", "error", "right"]
    figures = scores.audit_figures(table.fields, table.extra, table.errors, target_error=0.0)
    overall = figures["overall"]
    # 5 truth fields, 2 right; the zip on the page that failed counts as wrong.
    assert (overall["fields"], overall["right"], overall["wrong"], overall["error"], overall["missing"]) == (5, 2, 2, 1, 0)
    assert overall["field_accuracy"] == pytest.approx(0.4)
    # 16 truth digits: 9 matched; 1 missed (6), 1 substituted (9->8), 5 missed (the zip).
    assert (overall["truth_digits"], overall["digit_errors"]) == (16, 7)
    assert overall["digit_accuracy"] == pytest.approx(9 / 16)
    assert (figures["extra_rows"], figures["error_rows"]) == (1, 1)
    per_digit = {s["label"]: s for s in figures["digits"]["per_digit"]}
    # 8: read twice, once right -> precision 1/2; its one truth found -> recall 1.
    assert per_digit[8]["precision"] == pytest.approx(0.5) and per_digit[8]["recall"] == pytest.approx(1.0)
    assert per_digit[8]["f1"] == pytest.approx(2 / 3)
    # 5: truth six times (one in the date, five in the zip), found once -> recall 1/6.
    assert per_digit[5]["recall"] == pytest.approx(1 / 6) and per_digit[5]["precision"] == pytest.approx(1.0)
    assert per_digit[9]["recall"] == 0.0 and per_digit[9]["support"] == 1
    matrix = np.array(figures["digits"]["confusion_matrix"])
    assert matrix[9, 8] == 1 and matrix[6, scores.NO_DIGIT] == 1 and matrix[5, scores.NO_DIGIT] == 5
    # Ranked by confidence: .99 right, .95 wrong, .80 wrong, .60 right, the error field (0) wrong.
    review = figures["review"]
    curve = [(p["threshold"], p["accepted"], p["error_among_accepted"]) for p in review["curve"]]
    assert curve == [(0.0, 5, pytest.approx(0.6)), (0.6, 4, 0.5), (0.8, 3, pytest.approx(2 / 3)), (0.95, 2, 0.5),
                     (0.99, 1, 0.0), (None, 0, 0.0)]
    # No error allowed: accept only the .99 field, review 80%.
    assert review["threshold"] == 0.99 and review["share_reviewed"] == pytest.approx(0.8)
    # 10% of 5 fields is half a field: round(4.5) = 4 accepted, 2 of them wrong.
    assert review["error_at_10_percent_review"] == pytest.approx(0.5)
    looser = scores.audit_figures(table.fields, table.extra, table.errors, target_error=0.5)["review"]
    assert looser["threshold"] == 0.6 and looser["share_reviewed"] == pytest.approx(0.2)
    # Calibration over the 4 fields read: .6 right (bin .6-.7), .8 wrong, .95 wrong and .99 right (bin .9-1).
    bins = figures["calibration"]["bins"]
    assert [b["count"] for b in bins] == [0, 0, 0, 0, 0, 0, 1, 0, 1, 2]
    assert bins[9]["accuracy"] == pytest.approx(0.5) and bins[9]["confidence"] == pytest.approx(0.97)
    # ECE = (1*|1-.6| + 1*|0-.8| + 2*|.5-.97|) / 4
    assert figures["calibration"]["ece"] == pytest.approx((0.4 + 0.8 + 2 * 0.47) / 4)
    assert figures["per_field"]["cheque / amount"]["field_accuracy"] == pytest.approx(2 / 3)
    # The row of e.png (results line 7) matches no truth field: named, not scored.
    assert table.unmatched() == [f"{results}, line(s) 7: 1 result row(s) match no truth field; they are not scored"]


@pytest.mark.parametrize("results,truth,message", [
    (RESULTS, "file,page,text\na.png,1,123\n", r"truth.csv, line 1: truth file lacks column\(s\) field"),
    (RESULTS.replace("confidence,", "conf,"), TRUTH, r"results.csv, line 1: results file lacks column\(s\) confidence"),
    (RESULTS, TRUTH + "a.png,1,date,4567\n",
     r"truth.csv, line 3; .*truth.csv, line 7: field 'date' of a.png page 1 appears more than once"),
    (RESULTS, TRUTH + "f.png,one,zip,1\n", r"truth.csv, line 7: page 'one' is not a page number"),
    (RESULTS, TRUTH + "f.png,1,zip,12a\n", r"truth.csv, line 7: truth '12a' is not a digit string"),
    (RESULTS, "file,page,part,field,text\na.png,1,0,amount,123\n",
     r"truth.csv, line 2: part '0' is not a document's part number"),
    (RESULTS.replace("0.9500", "1.5"), TRUTH, r"results.csv, line 4: confidence '1.5' is not between 0 and 1"),
    (RESULTS, TRUTH.replace(".png", ".tif").replace(".pdf", ".tif"), r"no field of .*results.csv matches a field of .*truth.csv"),
])
def test_bad_input_names_the_file_and_line(tmp_path: Path, results: str, truth: str, message: str) -> None:
    with pytest.raises(AuditInputError, match=message):
        results_path, truth_path = write(tmp_path, results, truth)
        tables.load([results_path], truth_path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError, match="truth file .* not found"):
        tables.load([write(tmp_path)[0]], tmp_path / "absent.csv")


def test_the_report_holds_every_figure_and_embeds_its_images(tmp_path: Path) -> None:
    import json
    import re

    from docproc.audit import audit_results

    results, truth = write(tmp_path)
    page, figures = audit_results([results], truth, tmp_path / "report", target_error=0.0)
    out = tmp_path / "report"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["metrics.json", "report.html", "review_tradeoff.png", "reliability.png", "digit_confusion.png", "per_digit.png"])
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["overall"] == figures["overall"] and stored["review"]["threshold"] == 0.99
    text = page.read_text()
    assert "40.00%" in text and "56.25%" in text  # field and digit accuracy
    assert "fields right (2 of 5)" in text
    # One field accepted with no error: the bound says how little that shows.
    assert ("confidence &ge; 0.9900 accepts 20.0% of fields (1) at 0.00% wrong (0 of 1); the true rate may be up "
            "to 95.00% (95% upper bound)") in text
    assert stored["review"]["accepted"] == 1 and stored["review"]["error_upper_95"] == pytest.approx(0.95)
    assert "Warning: this sample is too small to support the target" in text
    # The run's own threshold accepted a.png's amount (right) and b.png's (wrong): 1 of 2.
    assert stored["review"]["run"] == {"accepted": 2, "errors": 1, "share_reviewed": 0.6,
                                       "error_among_accepted": 0.5,
                                       "error_upper_95": pytest.approx(0.9747, abs=1e-4)}
    assert "The run's own --review-below accepted 2 fields (status ok; 60.00% reviewed) at 50.00% wrong" in text
    # Self-contained: every image inline, nothing to fetch.
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == 4
    assert not re.search(r'(src|href)="(https?:|//)', text)
    # The gallery: wrong with high confidence first (b.png at .95, then a.png's date at .80), then the unreadable page.
    gallery = text[text.index("Worst errors"):]
    assert gallery.index("b.png") < gallery.index("a.png") < gallery.index("c.pdf")
    # b.png's amount was accepted (status ok): marked so, and its wrong digit (8 for 9) highlighted.
    b_card = gallery[gallery.index("b.png"):gallery.index("a.png")]
    assert "accepted: status ok" in b_card and '8<span class="wrong">8</span>' in b_card
    a_card = gallery[gallery.index("a.png"):gallery.index("c.pdf")]
    assert "accepted: status ok" not in a_card and '45<span class="missed">&middot;</span>7' in a_card


def test_upper_bounds_and_the_sample_a_target_needs() -> None:
    from docproc.audit.metrics import error_upper_bound, trials_needed

    assert error_upper_bound(0, 222) == pytest.approx(0.0134, abs=1e-4)  # the 0 of 222
    assert error_upper_bound(1, 280) == pytest.approx(0.0168, abs=2e-4)
    assert error_upper_bound(5, 5) == 1.0 and error_upper_bound(0, 0) == 1.0
    assert trials_needed(0.001) == 2995 and error_upper_bound(0, 2995) <= 0.001 < error_upper_bound(0, 2994)


def test_runs_in_several_files_are_audited_together_and_a_field_twice_is_refused(tmp_path: Path) -> None:
    lines = RESULTS.splitlines(keepends=True)
    (tmp_path / "first.csv").write_text("".join(lines[:3]))
    (tmp_path / "second.csv").write_text(lines[0] + "".join(lines[3:]))
    (tmp_path / "truth.csv").write_text(TRUTH)
    table = tables.load([tmp_path / "first.csv", tmp_path / "second.csv"], tmp_path / "truth.csv")
    assert table.fields["outcome"].tolist() == ["right", "wrong", "wrong", "error", "right"]
    (tmp_path / "again.csv").write_text(lines[0] + lines[1])
    with pytest.raises(AuditInputError, match=r"first.csv, line 2; .*again.csv, line 2: field 'amount' of a.png"):
        tables.load([tmp_path / "first.csv", tmp_path / "again.csv"], tmp_path / "truth.csv")


def test_the_documents_of_a_split_page_are_told_apart_by_their_part(tmp_path: Path) -> None:
    header = HEADER.replace("page,", "page,part,", 1)
    results = header + (
        "bed.png,1,1,cheque,amount,123,0.9900,0.99 1.0 1.0,ok,,0,0,10,10\n"
        "bed.png,1,2,cheque,amount,456,0.9900,0.99 1.0 1.0,ok,,0,20,10,10\n"
    )
    # Truth keyed per part joins part by part; the second cheque's amount was 450.
    truth = "file,page,part,field,text\nbed.png,1,1,amount,123\nbed.png,1,2,amount,450\n"
    table = tables.load(list(write(tmp_path, results, truth)[:1]), tmp_path / "truth.csv")
    assert table.fields["outcome"].tolist() == ["right", "wrong"]
    # Truth without a part column is part 1 of each page: the second cheque's row is extra.
    table = tables.load([tmp_path / "results.csv"], write(tmp_path, results, "file,page,field,text\nbed.png,1,amount,123\n")[1])
    assert table.fields["outcome"].tolist() == ["right"] and len(table.extra) == 1
    with pytest.raises(AuditInputError, match=r"field 'amount' of bed.png page 1 part 2 appears more than once"):
        tables.load([write(tmp_path, results + results.splitlines(keepends=True)[2], truth)[0]], tmp_path / "truth.csv")


def test_the_report_reads_well_in_headless_chromium(tmp_path: Path) -> None:
    import shutil
    import subprocess

    import cv2

    from docproc.audit import audit_results

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (scripts/bootstrap.sh test installs it)")
    results, truth = write(tmp_path)
    page, _ = audit_results([results], truth, tmp_path / "report", target_error=0.0)
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,2400"]
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    for shown in ("docproc accuracy audit", "fields right (2 of 5)", "By template", "By field", "cheque / amount",
                  "Worst errors", "truth <b>89</b>"):
        assert shown in dom, shown
    shot = tmp_path / "shot.png"
    subprocess.run([*base, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2400, 1200)
    # The plots were decoded and drawn: coloured pixels (the blue bars and curves) fill part of the page.
    blue = (image[..., 0].astype(int) - image[..., 2].astype(int)) > 60
    assert blue.mean() > 0.005


def test_model_figures_on_a_hand_checked_case() -> None:
    from docproc.audit.model_audit import model_figures

    def row(digit: int, p: float) -> list[float]:
        r = [(1 - p) / 9] * 10
        r[digit] = p
        return r

    # Four digits: 1 read right at .9, 2 read as 7 at .8, 3 right at .6, 7 right at .99.
    probabilities = np.array([row(1, 0.9), row(7, 0.8), row(3, 0.6), row(7, 0.99)])
    labels = np.array([1, 2, 3, 7])
    figures = model_figures(probabilities, labels, target_error=0.0)
    assert figures["overall"] == {"digits": 4, "right": 3, "errors": 1, "accuracy": 0.75}
    per_digit = {s["label"]: s for s in figures["digits"]["per_digit"]}
    assert per_digit[7]["precision"] == 0.5 and per_digit[7]["recall"] == 1.0
    assert per_digit[2]["recall"] == 0.0 and per_digit[2]["support"] == 1
    # Ranked .99 R, .9 R, .8 W, .6 R: accepting down to .9 keeps 2 digits at no error, reviewing half.
    assert figures["review"]["threshold"] == 0.9 and figures["review"]["share_reviewed"] == 0.5


def test_the_model_audit_agrees_with_the_model_card(shipped_classifier, tmp_path: Path) -> None:
    import json

    from docproc.audit.model_audit import audit_model
    from docproc.recognize.model_files import card_path

    page, figures = audit_model(shipped_classifier.path, tmp_path / "model", target_error=0.001, gallery=5)
    card = json.loads(card_path(shipped_classifier.path).read_text())
    assert figures["overall"]["errors"] == card["test"]["errors"]
    assert figures["digits"]["confusion_matrix"] == card["test"]["confusion_matrix"]
    assert figures["calibration"]["ece"] == pytest.approx(card["calibration"]["ece_after"], abs=1e-6)
    text = page.read_text()
    assert f"digits right ({10000 - card['test']['errors']} of 10000)" in text
    assert text.count('class="where">test digit #') == 5


def test_the_command_warns_of_what_matched_nothing_and_exits_8_on_bad_input(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from docproc.cli import main

    results, truth = write(tmp_path, truth=TRUTH + "z.png,1,amount,42\n")
    run = CliRunner().invoke(main, ["audit", str(results), "--truth", str(truth), "-o", str(tmp_path / "r")])
    assert run.exit_code == 0, run.output
    assert "warning: " in run.output and "truth.csv, line(s) 7: 1 truth field(s) have no row in the results" in run.output
    assert "6 fields, 33.33% right" in run.output
    # A target of 0, which no sample can show, is warned of without a sample size.
    strict = CliRunner().invoke(main, ["audit", str(results), "--truth", str(truth), "-o", str(tmp_path / "r"),
                                       "--target-error", "0"])
    assert strict.exit_code == 0, strict.output
    assert "accepted fields are too few to show 0.00% error" in strict.output and "it takes" not in strict.output
    bad = CliRunner().invoke(main, ["audit", str(results), "--truth", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "r")])
    assert bad.exit_code == 8 and "docproc: error: truth file" in bad.output and "Traceback" not in bad.output
