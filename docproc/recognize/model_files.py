"""Where the models are and what travels with them: the shipped files, the
``DOCPROC_MODEL`` override, and the names of a model's card, curves and peers."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from docproc.recognize.networks import twin_path

MODEL_ENV = "DOCPROC_MODEL"
# Package data (pyproject.toml), found where the package is installed: a wheel install has
# them as an editable one does. Keras loads from paths, and pip installs packages as plain
# folders, so the resource is a real file.
SHIPPED_MODELS = Path(str(files("docproc") / "models"))
SHIPPED_MODEL = SHIPPED_MODELS / "digits-cnn.keras"
SHIPPED_CHECK = SHIPPED_MODEL.with_name("single-digit.keras")
SHIPPED_SEQUENCE = SHIPPED_MODEL.with_name("sequence-ctc.keras")


def default_model_path() -> Path:
    """``$DOCPROC_MODEL`` when set, else the shipped ``docproc/models/digits-cnn.keras``."""
    return Path(os.environ.get(MODEL_ENV) or SHIPPED_MODEL)


def card_path(model_path: Path) -> Path:
    """The model card that belongs to a model file: same name, ``.json``."""
    return model_path.with_suffix(".json")


def companion_path(model_path: Path, kind: str) -> Path:
    """A file that travels with a model, e.g. ``companion_path(m, "curves.png")`` is
    ``digits-cnn.curves.png`` beside ``digits-cnn.keras``."""
    return model_path.with_name(f"{model_path.stem}.{kind}")


def peers_path(model_path: Path) -> Path:
    """Where a digit model's peers live: ``digits-cnn.peers.keras`` beside ``digits-cnn.keras``
    (or its twin ``digits-cnn.onnx``)."""
    return companion_path(model_path, "peers.keras")


def peers_beside(model_path: Path) -> Path | None:
    """The peer bundle beside a digit model (its .keras name, there when the file or its
    ONNX twin is: a reading install may carry only the twins), or None when it has none."""
    path = peers_path(model_path)
    return path if path.is_file() or twin_path(path).is_file() else None


def calibration_path(sequence_path: Path) -> Path:
    """Where the readers' calibration fitted for a sequence reader lives:
    ``sequence-ctc.agreement.json`` beside ``sequence-ctc.keras``."""
    return companion_path(sequence_path, "agreement.json")
