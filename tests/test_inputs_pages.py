"""Finding inputs, sniffing their kind, and streaming their pages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from docproc.config import IMAGE_DPI
from docproc.errors import InputFileError, MissingInputError
from docproc.ingest.inputs import discover, read_kind, sniff_kind
from docproc.ingest.pages import iter_pages


def page_image(value: int = 200, size: tuple[int, int] = (120, 80)) -> Image.Image:
    return Image.fromarray(np.full(size[::-1], value, np.uint8))


def test_kind_is_sniffed_from_bytes_not_extension(tmp_path: Path) -> None:
    png_named_pdf = tmp_path / "scan.pdf"
    page_image().save(png_named_pdf, format="PNG")
    assert read_kind(png_named_pdf) == "png"
    text_named_pdf = tmp_path / "notes.pdf"
    text_named_pdf.write_text("not a pdf")
    assert read_kind(text_named_pdf) is None
    assert sniff_kind(b"\n\n%PDF-1.7\n") == "pdf"
    assert sniff_kind(b"II*\x00....") == "tiff" and sniff_kind(b"\xff\xd8\xff\xe0") == "jpeg"


def test_discover_folders_globs_and_files_in_input_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    for rel in ("a.png", "b/deep/c.png", "b/x.png"):
        page_image().save(tmp_path / rel, format="PNG")
    (tmp_path / "b" / "readme.txt").write_text("skip me")
    found = discover([str(tmp_path / "b"), str(tmp_path / "*.png")])
    assert [f.name for f in found] == ["deep/c.png", "x.png", "a.png"]


def test_a_path_that_does_not_exist_is_refused_naming_it(tmp_path: Path) -> None:
    page_image().save(tmp_path / "a.png", format="PNG")
    with pytest.raises(MissingInputError, match=r"missing.tif, .*gone does not exist|missing.tif, .*gone do not exist"):
        discover([str(tmp_path / "a.png"), str(tmp_path / "missing.tif"), str(tmp_path / "gone")])


def test_discover_with_nothing_found_warns_and_finds_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a scan")
    assert discover([str(tmp_path / "*.pdf"), str(tmp_path / "empty")]) == []
    assert "matched no files" in caplog.text and "holds no PDF or image files" in caplog.text


def test_symlink_loops_do_not_hang(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    page_image().save(tmp_path / "scans" / "a.png", format="PNG")
    (tmp_path / "scans" / "loop").symlink_to(tmp_path / "scans")
    assert [f.name for f in discover([str(tmp_path / "scans")])] == ["a.png"]


def test_multipage_tiff_and_pdf_stream_page_by_page(tmp_path: Path) -> None:
    pages = [page_image(v) for v in (40, 120, 220)]
    tiff = tmp_path / "three.tif"
    pages[0].save(tiff, save_all=True, append_images=pages[1:], dpi=(300, 300))
    read = list(iter_pages(tiff, "tiff"))
    assert [p.number for p in read] == [1, 2, 3]
    assert [int(p.image.mean()) for p in read] == [40, 120, 220]
    assert read[0].dpi == 300.0 and read[0].image.dtype == np.uint8

    pdf = tmp_path / "two.pdf"
    pages[0].convert("RGB").save(pdf, save_all=True, append_images=[pages[2].convert("RGB")], resolution=100)
    rendered = list(iter_pages(pdf, "pdf", pdf_dpi=100))
    assert [p.number for p in rendered] == [1, 2]
    assert rendered[0].image.shape == (80, 120)
    assert abs(float(rendered[0].image.mean()) - 40) < 3 and abs(float(rendered[1].image.mean()) - 220) < 3


def test_pdf_pages_rendered_in_runs_are_the_pages_rendered_one_by_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from docproc.ingest import pages as pages_module

    levels = list(range(20, 240, 20))  # 11 pages: a full run of 8 and a short one of 3
    pdf = tmp_path / "eleven.pdf"
    images = [page_image(v).convert("RGB") for v in levels]
    images[0].save(pdf, save_all=True, append_images=images[1:], resolution=100)
    in_runs = list(iter_pages(pdf, "pdf", pdf_dpi=100))
    monkeypatch.setattr(pages_module, "PDF_PAGES_PER_CALL", 1)
    one_by_one = list(iter_pages(pdf, "pdf", pdf_dpi=100))
    assert [p.number for p in in_runs] == list(range(1, 12))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(in_runs, one_by_one, strict=True))

    # A page poppler cannot render (page 10 here): the pages before it are read, one at a
    # time within its run, and the error names it.
    real_render = pages_module._render

    def page_ten_is_damaged(path: Path, dpi: int, first: int, last: int) -> list:  # type: ignore[type-arg]
        if first <= 10 <= last:
            raise InputFileError(f"poppler could not render {'page 10' if first == last else 'pages'}: Syntax Error")
        return real_render(path, dpi, first, last)

    monkeypatch.setattr(pages_module, "PDF_PAGES_PER_CALL", 8)
    monkeypatch.setattr(pages_module, "_render", page_ten_is_damaged)
    read = []
    with pytest.raises(InputFileError, match="page 10: Syntax Error"):
        for page in iter_pages(pdf, "pdf", pdf_dpi=100):
            read.append(page.number)
    assert read == list(range(1, 10))


def test_implausible_dpi_metadata_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    page_image().save(path, format="PNG", dpi=(72, 72))
    assert next(iter_pages(path, "png")).dpi == IMAGE_DPI
    page_image().save(path, format="PNG", dpi=(200, 200))
    assert next(iter_pages(path, "png")).dpi == pytest.approx(200, abs=1)


def test_odd_modes_become_grey_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 0, 255))
    rgba.save(tmp_path / "alpha.png")
    grey = next(iter_pages(tmp_path / "alpha.png", "png")).image
    assert grey[0, 0] == 255 and grey[5, 5] == 0
    Image.fromarray(np.full((8, 8), 65535 // 2, np.uint16)).save(tmp_path / "wide.png")
    assert abs(int(next(iter_pages(tmp_path / "wide.png", "png")).image[0, 0]) - 127) <= 1
    Image.new("CMYK", (8, 8), (0, 0, 0, 255)).save(tmp_path / "cmyk.jpg")
    assert next(iter_pages(tmp_path / "cmyk.jpg", "jpeg")).image.max() < 30


def test_colour_jpeg_greys_and_exif_orientation(tmp_path: Path) -> None:
    # A colour scan with a dark mark at its top-left corner: blue ink on tinted paper.
    rgb = np.zeros((60, 100, 3), np.uint8)
    rgb[:] = (235, 225, 200)
    rgb[5:15, 5:25] = (20, 30, 160)
    upright = tmp_path / "upright.jpg"
    Image.fromarray(rgb).save(upright, quality=95)
    grey = next(iter_pages(upright, "jpeg")).image
    with Image.open(upright) as decoded:
        luma = np.asarray(decoded.convert("L")).astype(int)
    assert grey.shape == (60, 100)
    assert np.abs(grey.astype(int) - luma).max() <= 2
    # Orientation 6: the camera was turned, so the stored pixels must turn 90 degrees
    # clockwise to stand upright. Stored here is the page turned the other way.
    stored = Image.fromarray(np.rot90(rgb).copy())
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = tmp_path / "turned.jpg"
    stored.save(turned, quality=95, exif=exif)
    page = next(iter_pages(turned, "jpeg")).image
    assert page.shape == (60, 100)
    assert np.abs(page.astype(int) - grey.astype(int)).mean() < 2
    assert page[10, 15] < 100 < page[40, 80]


def test_broken_files_raise_input_errors(tmp_path: Path) -> None:
    truncated = tmp_path / "t.png"
    page_image().save(truncated, format="PNG")
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(InputFileError, match="cannot decode"):
        list(iter_pages(truncated, "png"))
    fake_pdf = tmp_path / "f.pdf"
    fake_pdf.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(InputFileError, match="PDF"):
        list(iter_pages(fake_pdf, "pdf"))


def test_an_oversized_page_is_refused_before_decoding(tmp_path: Path) -> None:
    from docproc.config import RunOptions
    from docproc.ingest.inputs import InputFile
    from docproc.run.failures import FileReadFailed
    from docproc.run.prepare import file_pages

    # A 1-bit PNG of 4000 x 3000 pixels is a few kB on disk and 12 megapixels decoded.
    bomb = tmp_path / "bomb.png"
    Image.new("1", (4000, 3000)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 20_000
    with pytest.raises(InputFileError, match=r"4000 x 3000 pixels \(12 megapixels\), over the limit of 10"):
        list(iter_pages(bomb, "png", max_pixels=10_000_000))
    assert len(list(iter_pages(bomb, "png", max_pixels=13_000_000))) == 1
    # In a run it is a failure at page 1 that says what to do (its error row; the run goes on).
    with pytest.raises(FileReadFailed) as failed:
        list(file_pages(InputFile(bomb, "bomb.png"), RunOptions(max_pixels=10_000_000)))
    assert failed.value.failure.page == 1 and "raise --max-megapixels" in failed.value.failure.message
    # A PDF page is judged by its size at the rendering resolution, before poppler renders it.
    pdf = tmp_path / "poster.pdf"
    Image.new("L", (200, 100), 255).save(pdf, resolution=2.0)  # 100 x 50 inches
    with pytest.raises(InputFileError, match="over the limit"):
        list(iter_pages(pdf, "pdf", pdf_dpi=200, max_pixels=150_000_000))


def test_an_empty_file_is_called_empty(tmp_path: Path) -> None:
    from docproc.config import RunOptions
    from docproc.ingest.inputs import InputFile
    from docproc.run.failures import FileReadFailed
    from docproc.run.prepare import file_pages

    empty = tmp_path / "scan.png"
    empty.write_bytes(b"")
    with pytest.raises(FileReadFailed) as failed:
        list(file_pages(InputFile(empty, "scan.png"), RunOptions()))
    assert failed.value.failure.message.startswith("empty file (0 bytes)")
