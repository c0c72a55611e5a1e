"""The two ways docproc runs a model file, behind one small interface.

Training, the model files and their cards are Keras 3. Reading runs, by default, each
model's exported twin (``digits-cnn.onnx`` beside ``digits-cnn.keras``, written by
training/twins.py) on ONNX Runtime, which starts in a fraction of a second and needs no
TensorFlow; ``--runtime keras`` runs the .keras file itself on Keras (the ``train``
extra), as the training and evaluation scripts do and as the GPU path does. Both give
the classes the model contract names (docs/model.md); the twins agree with their Keras
models to about 1e-6 (tests/test_twins.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from docproc.errors import MissingExtraError, ModelError
from docproc.recognize.native_stderr import captured_native_stderr
from docproc.run.fingerprint import file_sha256

TWIN_SUFFIX = ".onnx"
# What a twin's metadata says of the Keras file it was exported from (training/twins.py).
SOURCE_SHA256 = "docproc.source_sha256"
PARAMETERS = "docproc.parameters"
MEMBERS = "docproc.members"
EXPORTED_WITH = "docproc.exported_with"
AGREEMENT = "docproc.agreement"


class Network(Protocol):
    """A loaded model: its input and output shapes (None where a size varies), and one
    forward pass over a batch. Keras models have this interface themselves."""

    @property
    def input_shape(self) -> tuple[int | None, ...]: ...

    @property
    def output_shape(self) -> tuple[int | None, ...]: ...

    def predict_on_batch(self, batch: np.ndarray) -> Any: ...

    def count_params(self) -> int: ...


@dataclass
class OnnxNetwork:
    """A twin loaded into an ONNX Runtime session. ``members`` is how many models a peer
    bundle's mean stands for (1 for any other model)."""

    session: Any
    path: Path
    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...]
    parameters: int
    members: int = 1

    def __post_init__(self) -> None:
        # Asked of the session once, not on every call of the hot path.
        self._input_name = self.session.get_inputs()[0].name

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        """The model's output for one batch (float32, shaped as the input allows)."""
        return self.session.run(None, {self._input_name: np.ascontiguousarray(batch, np.float32)})[0]

    def count_params(self) -> int:
        """The Keras model's weight count, as recorded at export."""
        return self.parameters


def twin_path(model_path: Path) -> Path:
    """The exported twin of a Keras model file: ``x.onnx`` beside ``x.keras`` (an .onnx
    path is its own twin)."""
    return model_path.with_suffix(TWIN_SUFFIX)


def file_read(model_path: Path, runtime: str) -> Path:
    """The file that ``runtime`` reads for the model ``model_path`` names."""
    return twin_path(model_path) if runtime == "onnx" else model_path


def _opened(open_file: Callable[[], Any], path: Path, what_to_do: str) -> Any:
    """What ``open_file`` returns, its native messages kept off the terminal; ModelError
    with them and ``what_to_do`` when it fails. The runtimes raise many types for a bad
    file, all meaning the same to the user."""
    with captured_native_stderr() as native:
        try:
            opened = open_file()
        except Exception as exc:  # any type: see the docstring
            failure: Exception | None = exc
        else:
            failure = None
    if failure is not None:
        detail = f"\n{native.text.strip()[-2000:]}" if native.text.strip() else ""
        raise ModelError(f"Could not load model {path}: {type(failure).__name__}: {failure}. {what_to_do}{detail}") \
            from failure
    return opened


def _dims(value: Any) -> tuple[int | None, ...]:
    return tuple(dim if isinstance(dim, int) else None for dim in value.shape)


def load_onnx(model_path: Path, missing_hint: str, threads: int | None = None) -> OnnxNetwork:
    """The twin of ``model_path`` (or the .onnx file it names) in an ONNX Runtime session
    on the CPU, with ``threads`` threads (None: one per core). ModelError when the twin is
    missing, unreadable, or was exported from another version of the Keras file beside it."""
    path = twin_path(model_path)
    if not path.is_file():
        source = f" for {model_path}" if model_path != path else ""
        raise ModelError(
            f"Model file {path} not found{source}. {missing_hint} A Keras model of your own reads after "
            f"`python -m training.twins {model_path}` writes its twin (needs docproc[train]), or with --runtime keras."
        )
    import onnxruntime

    settings = onnxruntime.SessionOptions()
    settings.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    settings.log_severity_level = 3  # warnings about unused initializers and the like are not the user's business
    if threads is not None:
        settings.intra_op_num_threads = threads
        settings.inter_op_num_threads = 1
    session = _opened(lambda: onnxruntime.InferenceSession(str(path), settings, providers=["CPUExecutionProvider"]),
                      path, "The file is corrupt or not an ONNX model; restore it from the repository or export it "
                            "again with `python -m training.twins`.")
    metadata = session.get_modelmeta().custom_metadata_map
    source = metadata.get(SOURCE_SHA256)
    if model_path != path and model_path.is_file() and source != file_sha256(model_path):
        raise ModelError(
            f"{path} was exported from another version of {model_path} (the Keras file changed since): export it "
            f"again with `python -m training.twins {model_path}` (needs docproc[train]), or read with --runtime keras."
        )
    return OnnxNetwork(session, path, _dims(session.get_inputs()[0]), _dims(session.get_outputs()[0]),
                       int(metadata.get(PARAMETERS, 0)), int(metadata.get(MEMBERS, 1)))


def twin_metadata(path: Path) -> dict[str, str]:
    """What a twin's metadata says (the keys above), read without running it."""
    import onnxruntime

    settings = onnxruntime.SessionOptions()
    settings.log_severity_level = 3
    settings.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(str(path), settings, providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def load_keras(path: Path, missing_hint: str) -> Any:
    """A Keras model file loaded without compiling; MissingExtraError without Keras,
    ModelError when the file is missing or unreadable."""
    if not path.is_file():
        raise ModelError(f"Model file {path} not found. {missing_hint}")
    try:
        import keras  # imported first on its own: absent is another failure than a bad file
    except ImportError as exc:
        raise MissingExtraError(
            f"--runtime keras reads the .keras files with Keras and TensorFlow, which this install lacks: "
            f"pip install 'docproc[train]' (or read with the default --runtime onnx). ({exc})"
        ) from exc
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return _opened(lambda: keras.saving.load_model(path, compile=False), path,
                   "The file is corrupt or not a Keras 3 model; restore it from the repository or retrain it.")


def load_network(model_path: Path, runtime: str, missing_hint: str, threads: int | None = None) -> Network:
    """The model ``model_path`` names, as ``runtime`` ("onnx" or "keras") runs it. A path
    ending in .onnx is read by ONNX Runtime whatever the runtime."""
    if runtime == "onnx" or model_path.suffix == TWIN_SUFFIX:
        return load_onnx(model_path, missing_hint, threads)
    if runtime != "keras":
        raise ValueError(f"runtime must be onnx or keras, got {runtime!r}")
    return load_keras(model_path, missing_hint)


def peer_members(network: Network) -> int:
    """How many models a peer bundle's mean output stands for."""
    if isinstance(network, OnnxNetwork):
        return network.members
    # A Keras bundle holds each member as a nested model; a plain model file is one member.
    return sum(1 for layer in network.layers if hasattr(layer, "layers")) or 1  # type: ignore[attr-defined]
