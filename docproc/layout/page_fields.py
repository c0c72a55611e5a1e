"""Where the fields are on a page: the template's boxes after deskew and registration,
or, with no template, the digit strings found on the page in reading order."""

from __future__ import annotations

import logging

from docproc.ingest.pages import Page
from docproc.layout.field_image import FieldImage
from docproc.layout.register import template_fields
from docproc.layout.strings import find_strings
from docproc.layout.templates import Template

log = logging.getLogger("docproc")


def page_fields(page: Page, template: Template | None) -> list[FieldImage]:
    """The fields of one page: the template's, registered, or the strings found."""
    if template is None:
        return find_strings(page.image)
    fields, angle, shift = template_fields(page.image, template)
    log.debug("page %d: skew %.2f deg, shift %s px", page.number, angle, shift)
    return fields
