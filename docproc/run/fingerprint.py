"""What a file's rows depend on besides its bytes, hashed for the run ledger: the
template's meaning, the model files' bytes and the options that change readings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from docproc.config import IMAGE_DPI, RunOptions
from docproc.errors import ModelError
from docproc.run.ledger import Fingerprint

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def reading_fingerprint(options: RunOptions, model_paths: list[Path]) -> Fingerprint:
    """Fingerprints of the template (its meaning, so comments and layout may change), the
    model files (their bytes) and the options that change readings (not batch size,
    which does not, nor the file timeout, whose failures are read again anyway)."""
    template = options.template
    if template is None:
        template_hash = ""
    else:
        template_hash = _text_sha256(json.dumps({
            "name": template.name,
            "fields": [[f.name, list(f.box), f.min_length, f.max_length, f.pattern.pattern if f.pattern else None]
                       for f in template.fields],
        }))
    models = hashlib.sha256()
    for path in model_paths:
        try:
            models.update(file_sha256(path).encode())
        except OSError as exc:
            raise ModelError(f"Model file {path} cannot be read ({exc.strerror or exc}). Pass --model PATH to a "
                             ".keras file, or restore models/ from the repository.") from exc
    # The second and third entries were --image-dpi and --force-image-dpi, options that
    # changed no reading and are gone: their old defaults stay, so ledgers keep their hash.
    settings: list[object] = [options.pdf_dpi, IMAGE_DPI, False, options.review_below, options.max_pixels]
    if options.direct_pdf_scans:
        # Only when set, so the ledgers of runs from before the option keep their hash.
        settings.append("direct-pdf-scans")
    options_hash = _text_sha256(json.dumps(settings))
    return Fingerprint(template_hash, models.hexdigest(), options_hash)
