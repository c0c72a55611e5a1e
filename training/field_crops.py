"""Single-digit crops cut by docproc's own pipeline from generated scans of MNIST
*training* digits.

Crops that went through a scan, binarization, rule removal and the MNIST recipe differ
from MNIST: thicker or blurred strokes, gaps where a rule was taken out, a speck of the
security pattern merged into the glyph. The single-digit check learns from both kinds of
source, so it does not take "looks scanned" for "is not one digit".

A field gives crops only when segmentation found exactly as many glyphs as its truth has
digits, so each crop is one digit with a known label. The scans are written from the
split the caller passes (the training digits without the validation ones), so the test
split stays unseen.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from docproc.datasets import mnist
from docproc.glyphs.normalize import normalize_glyph
from docproc.glyphs.segment import find_glyphs
from docproc.ingest.inputs import discover, read_kind
from docproc.ingest.pages import iter_pages
from docproc.layout.page_fields import page_fields
from docproc.layout.templates import load_template
from samples.pages import write_set
from samples.reading import KINDS


def _paired_fields(scans: Path, templates: Path, truth: dict[tuple[str, int, str], str],
                   ) -> Iterator[tuple[list[np.ndarray], str]]:
    """Each field whose glyphs pair up one to one with its truth: their normalized crops
    and the truth."""
    for kind, template_name in KINDS:
        template = load_template(templates / f"{template_name}.yaml") if template_name else None
        for item in discover([str(scans / kind)], root=scans):
            for page in iter_pages(item.path, read_kind(item.path) or ""):
                for field in page_fields(page, template):
                    text = truth.get((item.name, page.number, field.name))
                    glyphs = find_glyphs(field.image)
                    if text is not None and len(glyphs) == len(text):
                        yield [normalize_glyph(g.ink) for g in glyphs], text


def harvest(split: mnist.Split, cheques: int, forms: int, zips: int, seed: int) -> mnist.Split:
    """Write a generated set from ``split``'s digits in a temporary folder, read it with
    docproc's fields and segmentation, and return the crops (uint8, ink high) and labels
    of the fields that paired up."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    with tempfile.TemporaryDirectory(prefix="docproc-field-crops-") as tmp:
        out = Path(tmp)
        write_set(out, cheques, forms, zips, seed, split=split)
        with (out / "truth.csv").open(newline="") as handle:
            truth = {(r["file"], int(r["page"]), r["field"]): r["text"] for r in csv.DictReader(handle)}
        for crops, text in _paired_fields(out / "scans", out / "templates", truth):
            images.extend(np.round(c * 255).astype(np.uint8) for c in crops)
            labels.extend(int(ch) for ch in text)
    if not images:
        return mnist.Split(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    return mnist.Split(np.stack(images), np.asarray(labels, np.uint8))
