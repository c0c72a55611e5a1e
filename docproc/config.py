"""How a run reads, and every default: the one place the command line, the library and
the tests take them from."""

from __future__ import annotations

import os
from dataclasses import dataclass

from docproc.layout.templates import Template

# Resolution PDF pages are rendered at (--pdf-dpi).
PDF_DPI = 200
# The resolution an image is taken to have when it states none plausible. No stage reads
# a page's resolution (every size is relative to the field), so this only labels pages.
IMAGE_DPI = 300.0
# The largest page decoded (--max-pixels, given in megapixels): a letter page at 1200 dpi
# is 135 megapixels, A3 at 600 dpi 70. Anything bigger is refused before its pixels are
# decoded (a decompression bomb can claim 30,000 x 30,000 pixels in a 100 kB file).
MAX_PIXELS = 150_000_000
# Fields whose confidence is under this are marked review (--review-below).
REVIEW_BELOW = 0.9
# Crops gathered across fields, pages and files before they are classified (--batch-size;
# the models run MODEL_ROWS a call whatever it is, docproc.recognize.batches): the results
# do not depend on it.
BATCH_SIZE = 1024
# `docproc audit`: the error rate among accepted fields to find a threshold for, and how
# many of the worst errors the gallery shows.
TARGET_ERROR = 0.001
GALLERY = 24
# Which readers read each field (--reader): the segmentation's glyph classifier, the
# sequence reader over the whole field, or both, which must agree (docproc.recognize.agreement).
READERS = ("both", "segment", "sequence")
READER = "both"
# What runs the models (--runtime): ONNX Runtime on their exported twins, or Keras on the
# .keras files themselves (the train extra; docproc.recognize.networks).
RUNTIMES = ("onnx", "keras")
RUNTIME = "onnx"


def default_jobs() -> int:
    """Worker processes for the CPU stages (--jobs): the cores this process may use (its
    CPU affinity, which containers and taskset set)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class RunOptions:
    """How to read: template (or None to find strings), PDF resolution, page size limit,
    review threshold, time limit per file, whether bare PDF scans skip poppler, whether
    each document on a scanner bed is read as its own part of the page, which readers
    read each field, and whether an internal error ends the run."""

    template: Template | None = None
    pdf_dpi: int = PDF_DPI
    review_below: float = REVIEW_BELOW
    max_pixels: int = MAX_PIXELS
    file_timeout: float | None = None  # seconds of work per file; None: no limit
    direct_pdf_scans: bool = False  # bare scanned PDF pages straight from their JPEG (docproc.ingest.pdf_scans)
    split_documents: bool = False  # several documents on one scan: each its own part (layout.page_fields)
    reader: str = READER  # one of READERS
    # An unexpected exception while reading a file: False makes it the file's error row,
    # True lets it end the run with its traceback (--raise-on-error, for debugging).
    raise_on_error: bool = False

    @property
    def reads_lines(self) -> bool:
        """Whether fields need the sequence reader's line image."""
        return self.reader != "segment"

    @property
    def template_name(self) -> str:
        """What the CSV 'template' column says: the template's name, empty without one."""
        return self.template.name if self.template else ""


# `docproc review`: where the station listens (a loopback address needs no token), the
# queue's orders (the first the default), and the share of ok rows keyed for quality control.
REVIEW_HOST = "127.0.0.1"
REVIEW_PORT = 8750
REVIEW_ORDERS = ("confidence", "file")
REVIEW_SAMPLE = 0.0
