"""Real scans (issue 19): the paper found on a scanner bed, tilts up to 15 degrees and
beyond, pages turned upside down or sideways, pages that are not the template's form,
bitonal archive images and faint carbon copies, on generated cheques and forms (MNIST
test digits), step by step and end to end through `docproc run`."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from docproc.ingest.pages import iter_pages
from docproc.layout.contrast import restore_contrast
from docproc.layout.deskew import estimate_skew
from docproc.layout.orientation import NOT_MATCHED, find_orientation
from docproc.layout.page_fields import TOO_TILTED, locate_documents, locate_fields
from docproc.layout.paper import SHADOW, find_documents, find_paper
from docproc.layout.reference import MIN_CORRELATION
from docproc.layout.register import MOVED_FAR, OFF_THE_SCAN
from docproc.layout.templates import Template, load_template
from samples.layouts import DigitSource, blank_form, cheque_layout, form_layout, render_page
from samples.scan_variants import bitonal, faint_carbon, rescaled, scanner_bed, several_on_a_bed, tilted, upside_down

DOCPROC = Path(sys.executable).with_name("docproc")


def _page(layout_name: str, seed: int) -> tuple[np.ndarray, dict[str, str]]:
    layout = cheque_layout() if layout_name == "cheque" else form_layout()
    rng = np.random.default_rng(seed)
    page, truth = render_page(layout, rng, DigitSource(rng))
    return cv2.cvtColor(page, cv2.COLOR_BGR2GRAY), truth


def _template(tmp_path: Path, layout_name: str) -> Template:
    layout = cheque_layout() if layout_name == "cheque" else form_layout()
    path = tmp_path / f"{layout_name}.yaml"
    path.write_text(layout.template_yaml())
    return load_template(path)


@pytest.fixture(scope="module")
def cheque() -> tuple[np.ndarray, dict[str, str]]:
    return _page("cheque", 1901)


def test_the_paper_is_found_on_a_dark_scanner_bed(cheque) -> None:
    page, _ = cheque
    scan = scanner_bed(page, np.random.default_rng(7))
    paper = find_paper(scan)
    x, y = paper.offset
    height, width = page.shape
    # The found box lies inside the page, short of it by at most the shadow allowance.
    assert abs(paper.image.shape[0] - height) <= 2 * SHADOW + 1 and abs(paper.image.shape[1] - width) <= 2 * SHADOW + 1
    assert int(scan[y + 5, x + 5]) > 150, "the box starts on paper, not on the bed"
    assert int(paper.image.min()) < 100, "the paper's ink is kept"


def test_a_scan_without_bed_is_kept_whole_even_with_dark_print(cheque) -> None:
    page, _ = cheque
    printed = page.copy()
    printed[200:300, 300:500] = 10  # a solid logo inside the page, touching no edge
    paper = find_paper(printed)
    assert paper.offset == (0, 0) and paper.image.shape == page.shape and paper.mask is None


def test_thick_ink_cut_by_the_edge_of_a_tight_crop_is_not_bed() -> None:
    crop = np.full((60, 200), 225, np.uint8)
    cv2.line(crop, (20, 0), (30, 59), 15, 9)  # a heavy stroke the crop cut at top and bottom
    cv2.line(crop, (120, 10), (199, 40), 15, 9)  # and one that runs off its right edge
    assert find_paper(crop).image is crop


def test_two_documents_on_one_bed_are_counted(tmp_path: Path, cheque) -> None:
    page, _ = cheque
    other, _ = _page("cheque", 1903)
    bed = np.full((1400, 1400), 25, np.uint8)
    bed[60:610, 80:1280] = page
    bed[700:1250, 120:1320] = other
    assert find_paper(bed).documents == 2
    template = _template(tmp_path, "cheque")
    assert all("2 documents on one scan" in f.doubt for f in locate_fields(bed, template).fields)
    # Without a template every document's strings are read.
    strings = locate_fields(bed, None).fields
    assert any(f.box[1] < 610 for f in strings) and any(f.box[1] > 700 for f in strings)


def test_each_document_on_a_bed_is_found_in_reading_order(tmp_path: Path, cheque) -> None:
    page, _ = cheque
    other, _ = _page("cheque", 1903)
    bed = np.full((1400, 2700), 25, np.uint8)
    bed[80:630, 1420:2620] = page  # top right, a little higher than the top left one
    bed[100:650, 60:1260] = other
    bed[760:1310, 700:1900] = page  # under both
    offsets = [paper.offset for paper in find_documents(bed)]
    assert [(x // 10, y // 10) for x, y in offsets] == [(6, 10), (142, 8), (70, 76)]
    layouts = locate_documents(bed, _template(tmp_path, "cheque"))
    assert [{f.part for f in layout.fields} for layout in layouts] == [{1}, {2}, {3}]
    assert not any(f.doubt for layout in layouts for f in layout.fields)
    # Each document's boxes lie on that document, in the scan's pixels.
    for layout, (x, y) in zip(layouts, offsets):
        assert all(x <= f.box[0] < x + 1200 and y <= f.box[1] < y + 550 for f in layout.fields)
    assert find_documents(page)[0].image is page, "a scan without bed is one document, itself"


def test_the_corners_around_a_tilted_page_on_a_bed_are_painted_paper(cheque) -> None:
    page, _ = cheque
    scan = scanner_bed(tilted(page, np.random.default_rng(3), 6.0, 6.0, fill=(20.0,), whole=True),
                       np.random.default_rng(4))
    paper = find_paper(scan)
    assert paper.mask is not None and not paper.mask.all()
    assert int(paper.image[~paper.mask].min()) > 150, "no bed left in the paper's box"


@pytest.mark.parametrize("angle", [-14.0, -9.5, 6.0, 12.5])
def test_skew_is_measured_up_to_15_degrees(cheque, angle: float) -> None:
    page, _ = cheque
    from docproc.glyphs.binarize import binarize

    upright = estimate_skew(binarize(page)[1])
    height, width = page.shape
    turned = cv2.warpAffine(page, cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0), (width, height),
                            borderMode=cv2.BORDER_REPLICATE)
    assert abs(estimate_skew(binarize(turned)[1]) - (upright + angle)) <= 0.3


def test_a_page_tilted_beyond_the_range_is_in_doubt(tmp_path: Path, cheque) -> None:
    page, _ = cheque
    template = _template(tmp_path, "cheque")
    height, width = page.shape
    turned = cv2.warpAffine(page, cv2.getRotationMatrix2D((width / 2, height / 2), 32.0, 1.0), (width, height),
                            borderMode=cv2.BORDER_REPLICATE)
    assert all(TOO_TILTED in f.doubt or NOT_MATCHED in f.doubt for f in locate_fields(turned, template).fields)
    assert not any(f.doubt for f in locate_fields(page, template).fields)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_pages_turned_by_quarter_turns_are_read_upright(tmp_path: Path, cheque, turns: int) -> None:
    page, _ = cheque
    template = _template(tmp_path, "cheque")
    turned = np.ascontiguousarray(np.rot90(page, turns))
    assert find_orientation(page, template) == 0
    back = (4 - turns) % 4  # the turns that make the scan upright again
    assert find_orientation(turned, template) == back
    upright, found = locate_fields(page, template), locate_fields(turned, template)
    assert found.turns == back
    height, width = page.shape
    for a, b in zip(upright.fields, found.fields):
        # The same field: its crop as upright, its box where the field lies in the scan as stored.
        assert abs(a.image.shape[0] - b.image.shape[0]) <= 4 and abs(a.image.shape[1] - b.image.shape[1]) <= 4
        marker = np.zeros(page.shape, np.uint8)
        x, y, w, h = a.box
        marker[y : y + h, x : x + w] = 1
        bx, by, bw, bh = b.box
        inside = np.rot90(marker, turns)[by : by + bh, bx : bx + bw].mean()
        assert inside > 0.85, f"{b.name}: the box in the scan holds {inside:.0%} of the field"
        assert not b.doubt


def test_a_page_of_another_form_does_not_match_the_template(tmp_path: Path) -> None:
    form_page, _ = _page("form", 1902)
    cheque_template = _template(tmp_path, "cheque")
    assert all(NOT_MATCHED in f.doubt for f in locate_fields(form_page, cheque_template).fields)
    assert not any(f.doubt for f in locate_fields(form_page, _template(tmp_path, "form")).fields)
    blank = np.full((550, 1200), 235, np.uint8)
    assert all(NOT_MATCHED in f.doubt for f in locate_fields(blank, cheque_template).fields)


def test_a_page_shifted_beyond_what_registration_allows_is_in_doubt(tmp_path: Path, cheque) -> None:
    page, _ = cheque
    template = _template(tmp_path, "cheque")
    height, width = page.shape
    shifted = np.full_like(page, 225)
    dy, dx = int(0.07 * height), int(0.05 * width)
    shifted[dy:, : width - dx] = page[: height - dy, dx:]  # the form moved 7% down and 5% left
    doubts = [f.doubt for f in locate_fields(shifted, template).fields]
    assert all(MOVED_FAR in d or NOT_MATCHED in d for d in doubts), doubts
    assert not any(MOVED_FAR in f.doubt for f in locate_fields(page, template).fields)


def test_a_field_turned_out_of_a_feeders_scan_is_in_doubt(tmp_path: Path, cheque) -> None:
    page, _ = cheque
    template = _template(tmp_path, "cheque")
    height, width = page.shape
    # Turned 14 degrees about the middle within the page's own frame, the date comb at
    # the top right corner leaves the scan.
    turned = cv2.warpAffine(page, cv2.getRotationMatrix2D((width / 2, height / 2), -14.0, 1.0), (width, height),
                            borderValue=235)
    fields = {f.name: f for f in locate_fields(turned, template).fields}
    assert OFF_THE_SCAN in fields["date"].doubt
    for f in fields.values():
        x, y, w, h = f.box
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, "boxes stay on the scan"


def test_writing_that_crosses_the_edge_of_its_box_is_in_doubt(tmp_path: Path, cheque) -> None:
    from docproc.glyphs.segment import CROSSES_EDGE
    from docproc.run.prepare import prepare_field

    page, _ = cheque
    template = _template(tmp_path, "cheque")
    height, width = page.shape
    overflowing = page.copy()
    # A tail written down from the amount's last digit, far below its box: no shift the
    # registration may make keeps the box from cutting it.
    right, bottom = (int(0.975 * width), int(0.4545 * height))
    cv2.line(overflowing, (right - int(0.04 * width), bottom - int(0.05 * height)),
             (right - int(0.05 * width), bottom + int(0.12 * height)), 30, 5)
    for scan, crossing in ((page, False), (overflowing, True)):
        fields = {f.name: prepare_field(f) for f in locate_fields(scan, template).fields}
        assert (CROSSES_EDGE in fields["amount"].doubt) == crossing
        assert not fields["date"].doubt
    # Without a template a string's box is drawn around its ink: touching it is no doubt.
    assert not any(prepare_field(f).doubt for f in locate_fields(overflowing, None).fields)


def _reference_template(tmp_path: Path) -> Template:
    layout = cheque_layout()
    cv2.imwrite(str(tmp_path / "blank-cheque.png"), blank_form(layout, np.random.default_rng(1)))
    path = tmp_path / "cheque-reference.yaml"
    path.write_text(layout.template_yaml() + "reference: blank-cheque.png\n")
    return load_template(path)


def test_a_reference_form_carries_the_boxes_to_an_enlarged_copy(tmp_path: Path, cheque) -> None:
    page, _ = cheque
    template = _reference_template(tmp_path)
    enlarged = rescaled(page, np.random.default_rng(0), 1.03, 1.03)
    upright, copied = locate_fields(page, template), locate_fields(enlarged, template)
    assert upright.correlation is not None and upright.correlation > MIN_CORRELATION
    assert copied.correlation is not None and copied.correlation > MIN_CORRELATION
    assert not any(f.doubt for f in upright.fields + copied.fields)
    height, width = page.shape
    for before, after in zip(upright.fields, copied.fields):
        x, y, w, h = before.box
        # Where the field is on the copy: its place on the page, 3% further from the centre.
        expected = (width / 2 + 1.03 * (x + w / 2 - width / 2), height / 2 + 1.03 * (y + h / 2 - height / 2))
        x, y, w, h = after.box
        assert abs(x + w / 2 - expected[0]) < 5 and abs(y + h / 2 - expected[1]) < 5, before.name
        assert abs(w - 1.03 * before.box[2]) < 5


def test_a_page_that_is_not_the_reference_form_is_in_doubt(tmp_path: Path) -> None:
    from docproc.layout.reference import NOT_THE_FORM

    template = _reference_template(tmp_path)
    form_page, _ = _page("form", 1920)
    for page in (form_page, np.full((550, 1200), 235, np.uint8)):
        located = locate_fields(page, template)
        assert located.correlation is not None and located.correlation < MIN_CORRELATION
        assert all(NOT_THE_FORM in f.doubt for f in located.fields)


def test_a_dithered_g4_tiff_is_read_as_grey(tmp_path: Path, cheque) -> None:
    from PIL import Image

    page, _ = cheque
    path = tmp_path / "archive.tif"
    Image.fromarray(bitonal(page, np.random.default_rng(0))).save(path, compression="group4", dpi=(200, 200))
    with Image.open(path) as stored:
        assert stored.mode == "1" and stored.info.get("compression") == "group4"
    grey = next(iter(iter_pages(path, "tiff"))).image
    assert grey.dtype == np.uint8 and len(np.unique(grey)) > 16, "dot density turned back into grey levels"
    # The grey comes back close to the page's, field by field, not as black and white dots.
    x0, y0, x1, y1 = 880, 170, 1170, 250
    assert abs(float(grey[y0:y1, x0:x1].mean()) - float(page[y0:y1, x0:x1].mean())) < 12


def test_a_faint_page_has_its_contrast_restored_and_a_blank_one_is_left_alone(cheque) -> None:
    page, _ = cheque
    faint = faint_carbon(page, np.random.default_rng(2))
    restored = restore_contrast(faint)
    paper = float(np.percentile(restored, 90))
    assert 1.0 - float(np.percentile(restored, 0.1)) / paper >= 0.7
    assert restore_contrast(page) is page, "a good scan is not touched"
    tinted = np.clip(np.random.default_rng(3).normal(215, 6, (550, 1200)), 0, 255).astype(np.uint8)
    assert restore_contrast(tinted) is tinted, "tint and noise are never stretched into ink"


def _run(tmp_path: Path, scans: Path, template: Path, *options: str,
         out_name: str = "results.csv") -> tuple[subprocess.CompletedProcess[str], list[dict[str, str]]]:
    out = tmp_path / out_name
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([str(DOCPROC), "run", str(scans), "-o", str(out), "--template", str(template), *options],
                          capture_output=True, text=True, env=env, timeout=300)
    with out.open(newline="") as handle:
        return done, list(csv.DictReader(handle))


def test_docproc_run_reads_real_scan_deliveries_and_refuses_another_form(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    truth: dict[tuple[str, str], str] = {}
    rng = np.random.default_rng(11)
    from PIL import Image

    for number, deliver in enumerate([scanner_bed, upside_down, bitonal, faint_carbon], start=1):
        page, fields = _page("cheque", 1910 + number)
        scan = deliver(page, rng)
        name = f"cheque-{number}.{'tif' if scan.dtype == bool else 'png'}"
        if scan.dtype == bool:
            Image.fromarray(scan).save(scans / name, compression="group4", dpi=(200, 200))
        else:
            cv2.imwrite(str(scans / name), scan)
        truth.update(((name, field), text) for field, text in fields.items())
    form_page, _ = _page("form", 1920)
    cv2.imwrite(str(scans / "zz-form.png"), form_page)
    layout = cheque_layout()
    template = tmp_path / "cheque.yaml"
    template.write_text(layout.template_yaml())

    done, rows = _run(tmp_path, scans, template)
    assert done.returncode == 0, done.stderr
    cheque_rows = [r for r in rows if r["file"].startswith("cheque-")]
    right = sum(r["text"] == truth[(r["file"], r["field"])] for r in cheque_rows)
    assert right >= 6, f"{right} of 8 cheque fields on a bed, upside down, dithered G4 or faint read right"
    assert not [r for r in cheque_rows if r["status"] == "ok" and r["text"] != truth[(r["file"], r["field"])]]
    form_rows = [r for r in rows if r["file"] == "zz-form.png"]
    assert form_rows and all(r["status"] == "review" and r["confidence"] == "0.0000" for r in form_rows)
    assert "zz-form.png page 1: template did not match" in done.stderr


def test_docproc_run_split_documents_reads_each_cheque_as_its_part(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    pages = [_page("cheque", seed) for seed in (1931, 1932)]
    cv2.imwrite(str(scans / "flatbed.png"), several_on_a_bed([page for page, _ in pages], np.random.default_rng(12)))
    template = tmp_path / "cheque.yaml"
    template.write_text(cheque_layout().template_yaml())

    done, rows = _run(tmp_path, scans, template, "--split-documents")
    assert done.returncode == 0, done.stderr
    assert [(r["part"], r["field"]) for r in rows] == [("1", "date"), ("1", "amount"), ("2", "date"), ("2", "amount")]
    truth = {(str(part), field): text for part, (_, fields) in enumerate(pages, 1) for field, text in fields.items()}
    right = sum(r["text"] == truth[(r["part"], r["field"])] for r in rows)
    assert right >= 3, f"{right} of 4 fields of two cheques on one flatbed scan read right"
    assert not [r for r in rows if r["status"] == "ok" and r["text"] != truth[(r["part"], r["field"])]]

    # Without the option only the largest is read, in review, and the log says what to do.
    done, rows = _run(tmp_path, scans, template, out_name="unsplit.csv")
    assert done.returncode == 0, done.stderr
    assert rows and all(r["part"] == "1" and r["status"] == "review" for r in rows)
    assert "2 documents on one scan" in done.stderr

    # The overlay places the template on each document as the run does.
    overlay = tmp_path / "overlay.png"
    checked = subprocess.run([str(DOCPROC), "template", "check", str(template), "--overlay", str(scans / "flatbed.png"),
                              "-o", str(overlay), "--split-documents"], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert "part 1 of 2" in checked.stdout and "part 2 of 2" in checked.stdout and overlay.stat().st_size > 10_000
    assert checked.stdout.count("fits the template") == 2
