"""Scanned PDF pages read straight from their JPEG (--direct-pdf-scans): the same page
poppler renders, and every page that is more than a bare scan left to poppler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from pdf2image import convert_from_path

from docproc.config import RunOptions
from docproc.ingest.inputs import InputFile
from docproc.ingest.pages import iter_pages, scan_page
from docproc.ingest.pdf_scans import open_scanned_pdf
from docproc.layout.templates import load_template
from docproc.run.pipeline import run_all
from samples.pages import write_set


@pytest.fixture(scope="module")
def form_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-page form of MNIST test digits, saved the way scanners save PDFs: a JPEG per page."""
    out = tmp_path_factory.mktemp("form")
    write_set(out, cheques=0, forms=1, zips=0, seed=3131)
    return next((out / "scans" / "forms").glob("*.pdf"))


def poppler(path: Path, dpi: int, number: int) -> np.ndarray:
    return np.asarray(convert_from_path(str(path), dpi=dpi, grayscale=True, first_page=number, last_page=number)[0])


def direct(path: Path, dpi: int, number: int) -> np.ndarray | None:
    with open_scanned_pdf(path) as scans:
        assert scans is not None
        return scan_page(scans, number, dpi, max_pixels=150_000_000)


@pytest.mark.parametrize("dpi", [200, 150, 96])  # enlarged, as stored, shrunk (the form is stored at 150)
def test_a_bare_scan_is_the_page_poppler_renders(form_pdf: Path, dpi: int) -> None:
    for number in (1, 2):
        mine, theirs = direct(form_pdf, dpi, number), poppler(form_pdf, dpi, number)
        assert mine is not None and mine.dtype == np.uint8
        assert mine.shape == theirs.shape
        # JPEG decoders and resamplers differ by a grey level or two, at stroke edges.
        assert float(np.abs(mine.astype(int) - theirs).mean()) < 2.5
        assert float(np.abs(mine.astype(int) - theirs).max()) < 128


def test_a_scan_with_an_srgb_profile_is_read_directly(form_pdf: Path, tmp_path: Path) -> None:
    from PIL import ImageCms

    tagged = tmp_path / "srgb.pdf"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with pikepdf.Pdf.open(form_pdf) as pdf:
        for page in pdf.pages:
            icc = pdf.make_stream(profile)
            icc.N = 3
            next(iter(page.resources.XObject.values())).ColorSpace = pikepdf.Array([pikepdf.Name.ICCBased, icc])
        pdf.save(tagged)
    mine, theirs = direct(tagged, 200, 1), poppler(tagged, 200, 1)
    assert mine is not None and mine.shape == theirs.shape
    assert float(np.abs(mine.astype(int) - theirs).mean()) < 2.5


def _rotated(pdf: pikepdf.Pdf) -> None:
    pdf.pages[1].obj.Rotate = 90


def _drawn_on(pdf: pikepdf.Pdf) -> None:
    pdf.pages[1].contents_add(pikepdf.Stream(pdf, b"0 g 72 72 144 36 re f"), prepend=False)


def _annotated(pdf: pikepdf.Pdf) -> None:
    note = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[72, 72, 216, 108])
    pdf.pages[1].obj.Annots = pdf.make_indirect(pikepdf.Array([note]))


def _half_page(pdf: pikepdf.Pdf) -> None:
    page = pdf.pages[1]
    name = next(iter(page.resources.XObject.keys()))
    page.obj.Contents = pdf.make_stream(f"q 306 0 0 396 0 0 cm {name} Do Q".encode())


def _masked(pdf: pikepdf.Pdf) -> None:
    page = pdf.pages[1]
    image = next(iter(page.resources.XObject.values()))
    image.Decode = [1, 0, 1, 0, 1, 0]  # drawn as a negative


@pytest.mark.parametrize("change", [_rotated, _drawn_on, _annotated, _half_page, _masked],
                         ids=["rotated", "drawn-on", "annotated", "half-page", "decode-array"])
def test_any_other_page_is_rendered_by_poppler(form_pdf: Path, tmp_path: Path,
                                               change: Callable[[pikepdf.Pdf], None]) -> None:
    changed = tmp_path / "changed.pdf"
    with pikepdf.Pdf.open(form_pdf) as pdf:
        change(pdf)
        pdf.save(changed)
    assert direct(changed, 200, 1) is not None  # page 1 is still a bare scan
    assert direct(changed, 200, 2) is None
    pages = list(iter_pages(changed, "pdf", pdf_dpi=200, direct_pdf_scans=True))
    assert [p.number for p in pages] == [1, 2]
    assert np.array_equal(pages[1].image, poppler(changed, 200, 2))
    assert np.array_equal(pages[0].image, direct(changed, 200, 1))


def test_poppler_renders_every_page_unless_asked_and_the_run_reads_the_same(
        form_pdf: Path, shipped_classifier, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from docproc.ingest import pages as pages_module

    rendered = list(iter_pages(form_pdf, "pdf", pdf_dpi=200))
    assert all(np.array_equal(page.image, poppler(form_pdf, 200, page.number)) for page in rendered)

    template = load_template(form_pdf.parent.parent.parent / "templates" / "form.yaml")
    files = [InputFile(form_pdf, form_pdf.name)]
    with_poppler, _ = run_all(files, shipped_classifier, RunOptions(template=template))

    def no_poppler(*args: object) -> None:
        raise AssertionError("poppler was asked to render a bare scan")

    monkeypatch.setattr(pages_module, "_render", no_poppler)
    direct_rows, summary = run_all(files, shipped_classifier, RunOptions(template=template, direct_pdf_scans=True))
    assert summary.pages == 2 and len(direct_rows) == len(with_poppler) == 8
    assert [r.text for r in direct_rows] == [r.text for r in with_poppler]


def test_a_pdf_pikepdf_cannot_open_is_left_to_poppler(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    with open_scanned_pdf(damaged) as scans:
        assert scans is None


def test_qpdf_complaints_about_a_damaged_pdf_are_told_at_debug_only(
        form_pdf: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # pikepdf logs qpdf's complaints as errors; docproc only looks at the file with it, and
    # poppler reports what matters, so they must not reach a cron job's stderr as errors.
    damaged = tmp_path / "odd-page-tree.pdf"
    data = form_pdf.read_bytes()
    # A stray byte after the last page reference, and the file cut short in its trailer.
    kids_end = data.index(b"]", data.index(b"/Kids ["))
    data = data[:kids_end].rstrip() + b"\xdf" + data[kids_end:]
    damaged.write_bytes(data[: data.rindex(b"startxref") + len(b"startxref\n") + 1])
    with caplog.at_level("DEBUG"):
        pages = list(iter_pages(damaged, "pdf", pdf_dpi=96, direct_pdf_scans=True))
    assert [p.number for p in pages] == [1, 2]  # page 2 as poppler recovers it
    assert not [r for r in caplog.records if r.levelno >= 30]
    assert any(r.name == "docproc" and "pikepdf:" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("dithered", [True, False], ids=["dithered", "thresholded"])
def test_a_bitonal_pdf_page_is_read_from_its_image_as_a_bitonal_tiff_is(tmp_path: Path, dithered: bool) -> None:
    import cv2
    from PIL import Image

    from docproc.ingest.inputs import read_kind
    from samples.layouts import DigitSource, cheque_layout, render_page
    from samples.scan_variants import bitonal

    rng = np.random.default_rng(3232)
    page, _ = render_page(cheque_layout(), rng, DigitSource(rng))
    white = bitonal(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY), rng, dithered)
    tiff, pdf = tmp_path / "cheque.tif", tmp_path / "cheque.pdf"
    Image.fromarray(white).save(tiff, compression="group4", dpi=(200, 200))
    Image.fromarray(white).save(pdf, resolution=200)  # a CCITT G4 image over the page, as archives write them
    with pikepdf.Pdf.open(pdf) as opened:
        assert "/CCITTFaxDecode" in str(next(iter(opened.pages[0].resources.XObject.values())).Filter)
    (from_tiff,) = iter_pages(tiff, read_kind(tiff) or "")
    (from_pdf,) = iter_pages(pdf, "pdf", pdf_dpi=200)  # by default, not only with --direct-pdf-scans
    assert np.array_equal(from_pdf.image, from_tiff.image)
    # At another resolution: poppler's page size, the same grey resampled.
    (at_300,) = iter_pages(pdf, "pdf", pdf_dpi=300)
    assert at_300.image.shape == poppler(pdf, 300, 1).shape


def test_a_bitonal_image_over_the_pixel_limit_is_never_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    white = np.ones((550, 1200), bool)
    white[200:300, 100:900] = False
    pdf = tmp_path / "big-image.pdf"
    Image.fromarray(white).save(pdf, resolution=200)

    def no_decoding(*args: object) -> None:
        raise AssertionError("a bitonal image over the pixel limit was decoded")

    monkeypatch.setattr(pikepdf, "PdfImage", no_decoding)
    # At 100 dpi the page is 600 x 275 pixels, under the limit; its image's 660,000 are not.
    with open_scanned_pdf(pdf) as scans:
        assert scans is not None
        assert scan_page(scans, 1, 100, max_pixels=300_000) is None
