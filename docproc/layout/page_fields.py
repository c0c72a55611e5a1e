"""Where the fields are on a page: the paper found in the scan, then the template's boxes
after deskew and registration, or, with no template, the digit strings found on the page
in reading order."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from docproc.ingest.pages import Page
from docproc.layout.contrast import restore_contrast
from docproc.layout.deskew import MAX_SKEW_DEG, beyond_range
from docproc.layout.field_image import FieldImage
from docproc.layout.orientation import NOT_MATCHED, box_in_scan, find_orientation, matches
from docproc.layout.paper import Paper, find_documents, find_paper
from docproc.layout.reference import MIN_CORRELATION, NOT_THE_FORM
from docproc.layout.register import MOVED_FAR, at_shift_limit, template_fields
from docproc.layout.strings import find_strings
from docproc.layout.templates import Template

log = logging.getLogger("docproc")

TOO_TILTED = (f"page tilted {MAX_SKEW_DEG:g} degrees or more, beyond what docproc straightens: "
              "rescan it straight")


def several_documents(count: int) -> str:
    """Why the fields of a scan holding ``count`` documents are in doubt."""
    return (f"{count} documents on one scan: only the largest was read with the template; read each with "
            "`docproc run --split-documents`, or scan each on its own page")


@dataclass(frozen=True)
class PageLayout:
    """A page's fields (boxes in the pixels of the scan as stored), the paper's box in
    the scan (x, y, w, h), and, with a template, the quarter turns (counter-clockwise)
    that made the paper upright, the ink ratio of its placed boxes (register.Registration),
    the skew found, the registration shift, and the correlation with the template's
    reference form (None without one)."""

    fields: list[FieldImage]
    paper: tuple[int, int, int, int]
    turns: int = 0
    fit: float = 0.0
    angle: float = 0.0
    shift: tuple[int, int] = (0, 0)
    correlation: float | None = None


def locate_fields(grey: np.ndarray, template: Template | None) -> PageLayout:
    """The fields of one page's grey image: the template's, on the paper (its contrast
    restored where the page is faint) turned upright, deskewed and registered, or the
    strings found on the paper. A template's fields are in doubt where the page fits it
    badly, is tilted beyond what docproc straightens, or holds several documents (only
    the largest is read: ``locate_documents`` reads each), and a field is where its box
    runs off the scan."""
    paper = find_paper(grey)
    if template is None and paper.documents > 1:
        paper = Paper(grey, (0, 0))  # every document's strings are on the page: read it all
    return _locate_on(paper, template, [several_documents(paper.documents)] if paper.documents > 1 else [])


def locate_documents(grey: np.ndarray, template: Template | None) -> list[PageLayout]:
    """The fields of every document on one page's scanner bed (``paper.find_documents``,
    in reading order of the scan), each document located as ``locate_fields`` locates a
    page's only one, its fields numbered with the document's part (from 1)."""
    return [_locate_on(paper, template, [], part) for part, paper in enumerate(find_documents(grey), 1)]


def _locate_on(paper: Paper, template: Template | None, doubts: list[str], part: int = 1) -> PageLayout:
    """The fields on one ``paper`` of a scan, ``doubts`` of the whole page joined to theirs."""
    paper = dataclasses.replace(paper, image=restore_contrast(paper.image))
    x, y = paper.offset
    height, width = paper.image.shape
    if template is None:
        return PageLayout(_in_scan(find_strings(paper.image), paper, 0, doubts, part), (x, y, width, height))
    turns = find_orientation(paper.image, template)
    image = np.ascontiguousarray(np.rot90(paper.image, turns))
    mask = None if paper.mask is None else np.ascontiguousarray(np.rot90(paper.mask, turns))
    registered = template_fields(image, template, mask)
    not_the_form = registered.correlation is not None and registered.correlation < MIN_CORRELATION
    doubts = (([NOT_THE_FORM] if not_the_form else [] if matches(registered.fit) else [NOT_MATCHED])
              + ([TOO_TILTED] if beyond_range(registered.angle) else [])
              + ([MOVED_FAR] if at_shift_limit(registered.shift, image.shape) else [])
              + doubts)
    return PageLayout(_in_scan(registered.fields, paper, turns, doubts, part), (x, y, width, height), turns,
                      registered.fit, registered.angle, registered.shift, registered.correlation)


def _in_scan(fields: list[FieldImage], paper: Paper, turns: int, doubts: list[str], part: int) -> list[FieldImage]:
    """Fields found on the paper turned by ``turns``, with their boxes in the scan's pixels,
    the page's ``doubts`` joined to each field's own, and the document's ``part``."""
    x, y = paper.offset
    placed = []
    for f in fields:
        fx, fy, fw, fh = box_in_scan(f.box, turns, paper.image.shape)
        placed.append(dataclasses.replace(f, box=(fx + x, fy + y, fw, fh), part=part,
                                          doubt="; ".join(doubts + ([f.doubt] if f.doubt else []))))
    return placed


def page_fields(page: Page, template: Template | None, split_documents: bool = False) -> list[FieldImage]:
    """The fields of one page (see ``locate_fields``), or with ``split_documents`` of each
    document on it (``locate_documents``)."""
    layouts = locate_documents(page.image, template) if split_documents else [locate_fields(page.image, template)]
    for part, layout in enumerate(layouts, 1):
        log.debug("page %d part %d: paper %s, turned %d x 90 deg, template fit %.2f, skew %.2f deg, shift %s px",
                  page.number, part, layout.paper, layout.turns, layout.fit, layout.angle, layout.shift)
    return [field for layout in layouts for field in layout.fields]
