"""docproc: batch OCR for handwritten digits in scanned documents.

    import docproc
    for row in docproc.read("samples/scans/cheques", template="samples/templates/cheque.yaml"):
        print(row.file, row.field, row.text, row.status)

``read`` and ``Reader`` (docproc/api.py) read scans into rows of the results contract
(``FieldResult``, docs/results-csv.md); every failure the user can act on is a
``DocprocError`` (docproc/errors.py). They are imported when first used, so that
``import docproc`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["DocprocError", "FieldResult", "Reader", "Template", "__version__", "load_template", "read"]

_WHERE = {"read": "docproc.api", "Reader": "docproc.api", "FieldResult": "docproc.output.results",
          "DocprocError": "docproc.errors", "Template": "docproc.layout.templates",
          "load_template": "docproc.layout.templates"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'docproc' has no attribute {name!r}")
