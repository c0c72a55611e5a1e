"""Model files copied as reading needs them: a .keras file with its ONNX twin beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

from docproc.recognize.networks import twin_path


def copy_model(source: Path, target: Path) -> Path:
    """Copy the Keras model ``source`` to ``target`` with its twin (``target``'s .onnx)."""
    shutil.copy(source, target)
    shutil.copy(twin_path(source), twin_path(target))
    return target
