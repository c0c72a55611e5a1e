"""What a file's rows depend on besides its bytes, hashed for the run ledger: the
template's meaning, the model files' bytes and the options that change readings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from docproc.config import IMAGE_DPI, RunOptions
from docproc.errors import ModelError
from docproc.layout.templates import FieldSpec
from docproc.run.ledger import Fingerprint

_CHUNK = 1 << 20

# The version of the code that turns pages into rows. Bump it with any change that can
# change a row (a stage, a threshold, the decoder, a default): files a ledger recorded
# under another version are then read again. tests/test_reading_version.py keeps a
# fingerprint of that code and fails on any change to it until someone has decided here
# whether the change can move a row. Version 1 adds nothing to the hash, so the ledgers
# of every run before the version existed (whose rows version 1 reproduces) keep theirs.
# Version 2: glyphs may be read as marks (the marks column, and marks allowed by templates).
# Version 3: strings found without a template keep pen strokes that page-sized rules took
# (layout/strings.py), and smaller glyphs are read (glyphs/segment.py SMALL_GLYPH).
# Version 4: the paper is found on a scanner bed, pages turned upright and deskewed up to 20
# degrees, bitonal images read as grey; fields in doubt (a page tilted too far, off its
# template, a box off the scan) are marked review; faint pages have their contrast restored
# (layout/paper.py, orientation.py, contrast.py; ingest/bitonal.py).
# Version 5: a template's field whose writing crosses the edge of its box is marked review
# (glyphs/segment.py CROSSES_EDGE); rows carry the document's part (--split-documents); a PDF
# page that is one bitonal image is read from it as a bitonal TIFF is (ingest/pdf_scans.py); a
# template may align pages to a reference form (layout/reference.py); a box's share off the scan
# is measured to the nearest 1% (register.py).
# The second reader (--reader both or sequence) left the segmentation's rows as they were
# (version 5 still): a run that reads with it adds the reader to the options' hash, and its
# model and calibration files to the models' hash.
# Version 6: rows say why they are review or error (the reason column), amount and date fields
# their value; a reading that breaks a template's rules gives way to the most likely one that
# keeps them (recognize/judgement.py, decode.py); a template's keys pages, optional, review_below,
# type and check.
# The ONNX runtime (recognize/networks.py) left the version at 6: the samples' CSVs are the Keras
# path's byte for byte, and the models' hash is of the files the runtime reads (the twins by
# default), so a ledger of a Keras run reads its files again anyway.
READING_VERSION = 6
# The modules whose code decides the rows (beside the model files, hashed on their own).
READING_CODE = ("config.py", "ingest/inputs.py", "ingest/bitonal.py", "ingest/pages.py", "ingest/pdf_scans.py",
                "layout/contrast.py", "layout/deskew.py", "layout/orientation.py", "layout/paper.py",
                "layout/field_image.py", "layout/page_fields.py", "layout/reference.py", "layout/register.py",
                "layout/strings.py", "layout/templates.py", "glyphs/binarize.py", "glyphs/crop_layout.py", "glyphs/cuts.py",
                "glyphs/normalize.py", "glyphs/rules.py", "glyphs/segment.py", "recognize/batches.py",
                "recognize/classes.py", "recognize/classifier.py", "recognize/decode.py", "recognize/field_reading.py",
                "recognize/loading.py", "run/pipeline.py", "run/prepare.py", "glyphs/line_image.py",
                "recognize/ctc.py", "recognize/agreement.py", "recognize/sequence_reader.py",
                "layout/template_schema.py", "recognize/judgement.py", "recognize/values.py",
                "recognize/check_digits.py", "run/job.py", "recognize/networks.py")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _later_keys(spec: FieldSpec) -> dict[str, object]:
    """A field's keys from after marks (docs/templates.md) that differ from their defaults."""
    default = FieldSpec(spec.name, spec.box, spec.min_length, spec.max_length)
    keys = ("optional", "review_below", "pages", "value_type", "decimals", "order", "check")
    return {key: getattr(spec, key) for key in keys if getattr(spec, key) != getattr(default, key)}


def reading_fingerprint(options: RunOptions, model_paths: list[Path]) -> Fingerprint:
    """Fingerprints of the template (its meaning, so comments and layout may change), the
    model files (their bytes), and the options that change readings (not batch size,
    which does not, nor the file timeout, whose failures are read again anyway) with the
    version of the reading code."""
    template = options.template
    if template is None:
        template_hash = ""
    else:
        meaning: dict[str, object] = {
            "name": template.name,
            # A field's allowed marks only when it has some, and its other keys only where they
            # are set: templates from before those keys keep their hash.
            "fields": [[f.name, list(f.box), f.min_length, f.max_length, f.pattern.pattern if f.pattern else None,
                        *([f.marks] if f.marks else []), *([later] if (later := _later_keys(f)) else [])]
                       for f in template.fields],
        }
        if template.reference_sha256:  # only when there is one, likewise
            meaning["reference"] = template.reference_sha256
        template_hash = _text_sha256(json.dumps(meaning))
    models = hashlib.sha256()
    for path in model_paths:
        try:
            models.update(file_sha256(path).encode())
        except OSError as exc:
            raise ModelError(f"Model file {path} cannot be read ({exc.strerror or exc}). Pass --model PATH to a "
                             ".keras file, or restore docproc/models/ from the repository.") from exc
    # The second and third entries were --image-dpi and --force-image-dpi, options that
    # changed no reading and are gone: their old defaults stay, so ledgers keep their hash.
    settings: list[object] = [options.pdf_dpi, IMAGE_DPI, False, options.review_below, options.max_pixels]
    if options.direct_pdf_scans:
        # Only when set, so the ledgers of runs from before the option keep their hash.
        settings.append("direct-pdf-scans")
    if options.split_documents:
        settings.append("split-documents")
    if options.reader != "segment":
        # Runs from before the second reader read with the segmentation alone: they keep their hash.
        settings.append(f"reader-{options.reader}")
    if READING_VERSION > 1:
        settings.append(f"reading-code-{READING_VERSION}")
    options_hash = _text_sha256(json.dumps(settings))
    return Fingerprint(template_hash, models.hexdigest(), options_hash)
