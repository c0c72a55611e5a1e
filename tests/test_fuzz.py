"""Random bytes and random images through ingest and segmentation: every input gives
pages and glyphs or a typed InputFileError, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from docproc.errors import InputFileError
from docproc.glyphs.segment import find_glyphs
from docproc.ingest.inputs import sniff_kind
from docproc.ingest.pages import iter_pages
from docproc.layout.deskew import MAX_SKEW_DEG
from docproc.layout.strings import find_strings

MAGIC = [b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"BM"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encoded(image: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


@FUZZ
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_random_bytes_behind_a_document_signature(tmp_path: Path, magic: bytes, tail: bytes) -> None:
    path = tmp_path / "fuzz.bin"
    path.write_bytes(magic + tail)
    kind = sniff_kind(path.read_bytes()[:1024])
    if kind is None:
        return
    try:
        for page in iter_pages(path, kind, max_pixels=4_000_000):
            assert page.image.dtype == np.uint8 and page.image.ndim == 2
    except InputFileError:
        pass


@FUZZ
@given(st.sampled_from(["PNG", "TIFF", "JPEG", "BMP"]), st.integers(1, 64), st.integers(1, 64), st.data())
def test_real_images_cut_short_or_flipped(tmp_path: Path, fmt: str, width: int, height: int, data: st.DataObject) -> None:
    pixels = np.frombuffer(data.draw(st.binary(min_size=width * height, max_size=width * height)), np.uint8)
    encoded = bytearray(_encoded(pixels.reshape(height, width), fmt))
    cut = data.draw(st.integers(0, len(encoded)))
    flips = data.draw(st.lists(st.integers(0, max(0, len(encoded) - 1)), max_size=4))
    for at in flips:
        encoded[at] ^= 0xFF
    path = tmp_path / "fuzz.img"
    path.write_bytes(bytes(encoded[:cut]))
    kind = sniff_kind(path.read_bytes()[:1024])
    if kind is None:
        return
    try:
        for page in iter_pages(path, kind, max_pixels=4_000_000):
            assert page.image.dtype == np.uint8
    except InputFileError:
        pass


@FUZZ
@given(st.integers(8, 64), st.integers(8, 64), st.data())
def test_scanned_pdfs_cut_short_or_flipped_read_directly(tmp_path: Path, width: int, height: int,
                                                         data: st.DataObject) -> None:
    # --direct-pdf-scans parses the PDF with pikepdf and decodes the page's JPEG itself,
    # before poppler: damage anywhere in either must still end in pages or InputFileError.
    pixels = np.frombuffer(data.draw(st.binary(min_size=width * height * 3, max_size=width * height * 3)), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels.reshape(height, width, 3)).save(buffer, format="PDF", resolution=72)
    encoded = bytearray(buffer.getvalue())
    cut = data.draw(st.integers(len(encoded) // 2, len(encoded)))
    for at in data.draw(st.lists(st.integers(0, len(encoded) - 1), max_size=4)):
        encoded[at] ^= 0xFF
    path = tmp_path / "fuzz.pdf"
    path.write_bytes(bytes(encoded[:cut]))
    try:
        for page in iter_pages(path, "pdf", pdf_dpi=96, max_pixels=4_000_000, direct_pdf_scans=True):
            assert page.image.dtype == np.uint8 and page.image.ndim == 2
    except InputFileError:
        pass


@FUZZ
@given(st.integers(1, 120), st.integers(1, 300), st.data())
def test_segmentation_of_random_fields_never_crashes(height: int, width: int, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["noise", "blocks", "lines", "flat"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    if kind == "noise":
        field = rng.integers(0, 256, size=(height, width), dtype=np.uint8)
    elif kind == "flat":
        field = np.full((height, width), int(rng.integers(0, 256)), np.uint8)
    else:
        field = np.full((height, width), 240, np.uint8)
        for _ in range(int(rng.integers(1, 8))):
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
            if kind == "blocks":
                field[y : y + int(rng.integers(1, 30)), x : x + int(rng.integers(1, 30))] = int(rng.integers(0, 120))
            else:
                field[y, :] = 0 if rng.random() < 0.5 else field[y, :]
                field[:, x] = 0 if rng.random() < 0.5 else field[:, x]
    for glyph in find_glyphs(field):
        assert glyph.ink.ndim == 2 and glyph.ink.size > 0
    for string in find_strings(field):
        assert string.image.size > 0


@FUZZ
@given(st.integers(1, 200), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_registration_of_random_pages_never_crashes(height: int, width: int, seed: int) -> None:
    from docproc.layout.page_fields import locate_fields
    from docproc.layout.templates import load_template

    template = load_template(Path(__file__).resolve().parent.parent / "samples" / "templates" / "cheque.yaml")
    rng = np.random.default_rng(seed)
    page = rng.integers(0, 256, size=(height, width), dtype=np.uint8) if rng.random() < 0.5 else \
        np.full((height, width), int(rng.integers(0, 256)), np.uint8)
    located = locate_fields(page, template)  # the paper found, then deskew and registration
    fields = located.fields
    assert len(fields) == len(template.fields) and abs(located.angle) <= MAX_SKEW_DEG
    for field in fields:
        find_glyphs(field.image)
