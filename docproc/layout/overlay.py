"""Draw a template's boxes on a scan, to help people write and check templates."""

from __future__ import annotations

from pathlib import Path

import cv2

from docproc.errors import InputFileError, OutputError
from docproc.ingest.inputs import read_kind
from docproc.ingest.pages import iter_pages
from docproc.layout.page_fields import PageLayout, locate_documents, locate_fields
from docproc.layout.templates import Template


def draw_overlay(scan: Path, template: Template, output: Path, split_documents: bool = False) -> list[PageLayout]:
    """Write ``output``: the scan's first page with the template's nominal boxes in red and
    the boxes after finding the paper, turning it upright, deskew and registration in
    green, each labelled (with its document's part, with ``split_documents``). Returns
    where the fields were found (turns, fit, skew, shift), a layout per document read."""
    kind = read_kind(scan)
    if kind is None:
        raise InputFileError(f"{scan} is not a PDF or image file.")
    page = next(iter(iter_pages(scan, kind)))
    layouts = locate_documents(page.image, template) if split_documents else [locate_fields(page.image, template)]
    canvas = cv2.cvtColor(page.image, cv2.COLOR_GRAY2BGR)
    for part, located in enumerate(layouts, 1):
        # The template's boxes are fractions of the paper found in the scan.
        px, py, width, height = located.paper
        thickness = max(1, width // 600)
        for spec, placed in zip(template.fields, located.fields):
            left, top, right, bottom = spec.box
            cv2.rectangle(canvas, (px + int(left * width), py + int(top * height)),
                          (px + int(right * width), py + int(bottom * height)), (0, 0, 255), thickness)
            x, y, w, h = placed.box
            cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 160, 0), thickness)
            label = f"{part}/{spec.name}" if split_documents else spec.name
            cv2.putText(canvas, label, (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, max(0.4, width / 2000),
                        (0, 160, 0), thickness, cv2.LINE_AA)
    ok, encoded = cv2.imencode(output.suffix or ".png", canvas)
    if not ok:
        raise OutputError(f"cannot encode {output}; use a .png or .jpg name")
    try:
        encoded.tofile(str(output))
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return layouts
