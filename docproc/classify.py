"""Load the digit model, the single-digit check and the digit model's peers; run them on
normalized 28x28 crops in batches.

The model contract (DESIGN.md): input (N, 28, 28, 1) float32 in [0, 1], ink high; output
(N, 10) calibrated probabilities. The single-digit check (training/single_digit.py) takes
the same crops and returns (N, 1), the probability that a crop is exactly one whole digit,
so the decoder can tell two touching digits, or half a digit, from one digit. The peers
(training/peers.py) follow the model contract too, and vote only on the crops the digit
model is unsure of. Any Keras 3 backend runs them all; with JAX or TensorFlow on a
machine that has a GPU, the backend puts the batches there by itself.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from docproc.errors import ModelError
from docproc.native_stderr import captured_native_stderr

MODEL_ENV = "DOCPROC_MODEL"
SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "models" / "digits-cnn.keras"
SHIPPED_CHECK = SHIPPED_MODEL.with_name("single-digit.keras")
DEFAULT_BATCH_SIZE = 1024


def default_model_path() -> Path:
    """``$DOCPROC_MODEL`` when set, else the shipped ``models/digits-cnn.keras``."""
    return Path(os.environ.get(MODEL_ENV) or SHIPPED_MODEL)


def card_path(model_path: Path) -> Path:
    """The model card that belongs to a model file: same name, ``.json``."""
    return model_path.with_suffix(".json")


def companion_path(model_path: Path, kind: str) -> Path:
    """A file that travels with a model, e.g. ``companion_path(m, "curves.png")`` is
    ``digits-cnn.curves.png`` beside ``digits-cnn.keras``."""
    return model_path.with_name(f"{model_path.stem}.{kind}")


def _bucket(count: int, batch_size: int) -> int:
    # Feed the model a handful of fixed shapes (powers of two up to the batch size), so a
    # backend compiles each shape once instead of once per odd-sized tail batch.
    size = 1
    while size < count and size < batch_size:
        size *= 2
    return min(size, batch_size)


def _predict_in_batches(model: Any, crops: np.ndarray, batch_size: int, width: int) -> np.ndarray:
    """Run ``model`` over (N, 28, 28[, 1]) crops in batches of at most ``batch_size``; the
    tail batch is padded to a power of two so the backend sees few distinct shapes."""
    if crops.ndim == 3:
        crops = crops[..., None]
    if crops.shape[1:] != (28, 28, 1):
        raise ValueError(f"crops must be (N, 28, 28[, 1]), got {crops.shape}")
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    count = len(crops)
    out = np.empty((count, width), np.float32)
    start = 0
    while start < count:
        size = _bucket(count - start, batch_size)
        chunk = crops[start : start + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.zeros((size - len(chunk), 28, 28, 1), np.float32)])
        taken = min(size, count - start)
        out[start : start + taken] = np.asarray(model.predict_on_batch(chunk))[:taken]
        start += taken
    return out


# A crop the model is unsure of often reads right from a pixel over: a digit near the edge
# of what the model learned, or one the recipe centred a little off. Averaging the model
# over one-pixel shifts of those crops cut digit errors by 9% on scans of held-out
# training digits (field accuracy +0.3 points); shifting every crop gained nothing more.
# Leaving out the crops the check calls no digit kept the gain for a sixth of the work.
# With the peer models (below) averaged in too, re-reading every crop under 0.99 rather
# than 0.9 (6% of the crops a cheque's fields read, not 2%) sent the fields docproc gets
# wrong to review more often: at 10% review, 1.11% -> 0.89% wrong on the validation-digit
# dev set (fields right 96.87% -> 96.90%: 7 fixed, 6 broken).
UNSURE_BELOW = 0.99
NO_DIGIT_BELOW = 0.05
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass(frozen=True)
class CropReadings:
    """What the models say of a batch of crops: (N, 10) digit probabilities, and (N,)
    single-digit check probabilities (None when no check is loaded)."""

    probabilities: np.ndarray
    singles: np.ndarray | None


def _shifted(crops: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(N, 28, 28) crops moved ``dx`` columns right and ``dy`` rows down, paper filling in."""
    out = np.zeros_like(crops)
    height, width = crops.shape[1:]
    out[:, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = \
        crops[:, max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)]
    return out


@dataclass
class SingleDigitCheck:
    """A loaded single-digit check. ``predict`` takes normalized crops, returns for each
    the probability that it holds exactly one whole digit."""

    model: Any
    path: Path
    batch_size: int = DEFAULT_BATCH_SIZE

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N,) float32 probabilities for crops shaped (N, 28, 28) or (N, 28, 28, 1)."""
        return _predict_in_batches(self.model, crops, self.batch_size, 1)[:, 0]


@dataclass
class PeerModels:
    """Digit models trained like the main one but from other seeds, bundled as one model
    that outputs their mean probabilities; ``members`` is how many readings that mean
    stands for. Models that learned the same data from different starts disagree mostly
    where a crop is truly ambiguous, so their votes on unsure crops correct some misreads
    and, more often, lower the confidence of the ones they cannot correct."""

    model: Any
    path: Path
    members: int
    batch_size: int = DEFAULT_BATCH_SIZE

    def predict(self, digits: np.ndarray) -> np.ndarray:
        """The members' mean class probabilities (N, 10) for (N, 28, 28[, 1]) crops."""
        return _predict_in_batches(self.model, digits, self.batch_size, 10)


@dataclass
class DigitClassifier:
    """A loaded digit model, the single-digit check the decoder weighs splits with (None:
    readings are judged by the digit model alone), and the peer models that vote on the
    crops the digit model is unsure of (None: it reads alone)."""

    model: Any
    path: Path
    batch_size: int = DEFAULT_BATCH_SIZE
    check: SingleDigitCheck | None = None
    peers: PeerModels | None = None

    def predict(self, digits: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) float32 for digits shaped (N, 28, 28) or (N, 28, 28, 1):
        the model's own, one pass (what the model card measures)."""
        return _predict_in_batches(self.model, digits, self.batch_size, 10)

    def read(self, digits: np.ndarray) -> CropReadings:
        """The crops as docproc reads them: the digit model's probabilities and the
        single-digit check's (None without a check). A crop the model is unsure of (top
        probability under ``UNSURE_BELOW``) is read again shifted by a pixel each way and
        by each peer model, and all these readings are averaged, each weighing the same,
        unless the check says it is no digit at all (under ``NO_DIGIT_BELOW``: most unsure
        crops are split pieces that cut a digit wrongly, whose reading never wins)."""
        probabilities = self.predict(digits)
        singles = self.check.predict(digits) if self.check is not None else None
        unsure = probabilities.max(axis=1) < UNSURE_BELOW
        if singles is not None:
            unsure &= singles >= NO_DIGIT_BELOW
        again = np.flatnonzero(unsure)
        if again.size:
            crops = np.asarray(digits, np.float32).reshape(-1, 28, 28)[again]
            shifted = self.predict(np.concatenate([_shifted(crops, dx, dy) for dx, dy in SHIFTS]))
            total = probabilities[again] + shifted.reshape(len(SHIFTS), again.size, 10).sum(axis=0)
            readings = len(SHIFTS) + 1
            if self.peers is not None:
                total += self.peers.members * self.peers.predict(crops)
                readings += self.peers.members
            probabilities[again] = total / readings
        return CropReadings(probabilities, singles)

    def with_batch_size(self, batch_size: int) -> DigitClassifier:
        """The same models (check and peers included), classifying ``batch_size`` crops at a time."""
        return replace(self, batch_size=batch_size,
                       check=None if self.check is None else replace(self.check, batch_size=batch_size),
                       peers=None if self.peers is None else replace(self.peers, batch_size=batch_size))

    def parameter_count(self) -> int:
        """Number of weights in the model."""
        return int(self.model.count_params())


class _RetracingHint(logging.Filter):
    """Drops TensorFlow's hint that a function was traced again for a new input shape.
    The shapes are few on purpose (powers of two up to the batch size, see ``_bucket``)
    and each is traced once, but the first batches of a run meet several of them in a row
    for each model, which TensorFlow reports as a WARNING that would end up in every cron
    log; there is nothing a user could do about it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


_RETRACING_HINT = _RetracingHint()


def _load_keras(path: Path, missing_hint: str) -> Any:
    """A Keras model file loaded without compiling, or ModelError saying what to do."""
    if not path.is_file():
        raise ModelError(f"Model file {path} not found. {missing_hint}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").addFilter(_RETRACING_HINT)  # adding it again is a no-op
    with captured_native_stderr() as native:
        try:
            import keras

            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # Keras raises many types for a bad file; all mean the same to the user.
            failure: Exception | None = exc
        else:
            failure = None
    if failure is not None:
        detail = f"\n{native.text.strip()[-2000:]}" if native.text.strip() else ""
        raise ModelError(
            f"Could not load model {path}: {type(failure).__name__}: {failure}. "
            f"The file is corrupt or not a Keras 3 model; restore it from the repository or retrain it.{detail}"
        ) from failure
    return model


def _check_shapes(model: Any, path: Path, outputs: int, meaning: str) -> None:
    input_shape = tuple(model.input_shape)
    output_shape = tuple(model.output_shape)
    if input_shape[1:] != (28, 28, 1) or output_shape[1:] != (outputs,):
        raise ModelError(
            f"Model {path} takes {input_shape} and returns {output_shape}, but docproc needs "
            f"(N, 28, 28, 1) in and (N, {outputs}) {meaning} out (see the model contract in DESIGN.md)."
        )


def load_single_digit_check(path: Path | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> SingleDigitCheck:
    """Load the single-digit check (the shipped one by default); ModelError when it is
    missing, unreadable or of the wrong shape."""
    path = Path(path) if path is not None else SHIPPED_CHECK
    model = _load_keras(path, "Restore models/single-digit.keras from the repository, "
                              "or train it with `python -m training.single_digit`.")
    _check_shapes(model, path, 1, "single-digit probabilities")
    return SingleDigitCheck(model=model, path=path, batch_size=batch_size)


def peers_path(model_path: Path) -> Path:
    """Where a digit model's peers live: ``digits-cnn.peers.keras`` beside ``digits-cnn.keras``."""
    return companion_path(model_path, "peers.keras")


def peers_beside(model_path: Path) -> Path | None:
    """The peer bundle beside a digit model, or None when it has none."""
    path = peers_path(model_path)
    return path if path.is_file() else None


def load_peers(path: Path, batch_size: int = DEFAULT_BATCH_SIZE) -> PeerModels:
    """Load a peer bundle (training/peers.py); ModelError when it is unreadable or of the
    wrong shape."""
    model = _load_keras(path, "Restore it from the repository, bundle new peers with "
                              "`python -m training.peers`, or remove it to read with the digit model alone.")
    _check_shapes(model, path, 10, "peer probabilities")
    # A bundle holds each member as a nested model; a plain model file is one member.
    members = sum(1 for layer in model.layers if hasattr(layer, "layers")) or 1
    return PeerModels(model=model, path=path, members=members, batch_size=batch_size)


def load_classifier(path: Path | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                    check: bool = True) -> DigitClassifier:
    """Load a digit model file and check it follows the model contract; with ``check``,
    the shipped single-digit check too. Peers are loaded from ``peers_path(path)`` when
    that file exists (the shipped model has them; another model reads alone unless a
    bundle is put beside it).

    Raises ModelError with what to do when a file is missing, unreadable or has the
    wrong input or output shape.
    """
    path = Path(path) if path is not None else default_model_path()
    if batch_size < 1:
        raise ModelError(f"batch size must be at least 1, got {batch_size}")
    model = _load_keras(path, f"Pass --model PATH (or set {MODEL_ENV}) to a .keras file, "
                              "or train one with `python -m training.train`.")
    _check_shapes(model, path, 10, "probabilities")
    peers_file = peers_beside(path)
    peers = load_peers(peers_file, batch_size) if peers_file is not None else None
    classifier = DigitClassifier(model=model, path=path, batch_size=batch_size,
                                 check=load_single_digit_check(batch_size=batch_size) if check else None,
                                 peers=peers)
    # The first prediction probes devices (and on a CPU-only TensorFlow build, fails a CUDA
    # probe out loud); do it here, under capture, on one blank digit.
    with captured_native_stderr():
        classifier.predict(np.zeros((1, 28, 28), np.float32))
    return classifier
