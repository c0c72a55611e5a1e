"""Load the digit model, its peers, the single-digit check and the sequence reader, as
the chosen runtime runs them (docproc.recognize.networks: their ONNX twins by default),
and check each follows its contract (docs/model.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from docproc.config import BATCH_SIZE, RUNTIME, RunOptions
from docproc.errors import ModelError
from docproc.glyphs.line_image import HEIGHT, MIN_WIDTH
from docproc.recognize.agreement import load_calibration
from docproc.recognize.classes import OUTPUT_WIDTHS, SEQUENCE_WIDTH
from docproc.recognize.classifier import DigitClassifier, PeerModels, SingleDigitCheck
from docproc.recognize.model_files import (
    MODEL_ENV,
    SHIPPED_CHECK,
    SHIPPED_SEQUENCE,
    calibration_path,
    default_model_path,
    peers_beside,
)
from docproc.recognize.native_stderr import captured_native_stderr
from docproc.recognize.networks import Network, load_network, peer_members
from docproc.recognize.sequence_reader import SequenceReader


def _check_shapes(model: Network, path: Path, outputs: tuple[int, ...], meaning: str) -> int:
    """The model's output width, after checking its shapes against the contract."""
    input_shape = tuple(model.input_shape)
    output_shape = tuple(model.output_shape)
    if input_shape[1:] != (28, 28, 1) or len(output_shape) != 2 or output_shape[1] not in outputs:
        widths = " or ".join(f"(N, {width})" for width in outputs)
        raise ModelError(
            f"Model {path} takes {input_shape} and returns {output_shape}, but docproc needs "
            f"(N, 28, 28, 1) in and {widths} {meaning} out (see the model contract in docs/model.md)."
        )
    return int(output_shape[1])


def load_single_digit_check(path: Path | None = None, runtime: str = RUNTIME,
                            threads: int | None = None) -> SingleDigitCheck:
    """Load the single-digit check (the shipped one by default) for ``runtime``; ModelError
    when it is missing, unreadable or of the wrong shape."""
    path = Path(path) if path is not None else SHIPPED_CHECK
    model = load_network(path, runtime, "Restore docproc/models/single-digit.keras from the repository, "
                              "or train it with `python -m training.single_digit`.", threads)
    _check_shapes(model, path, (1,), "single-digit probabilities")
    return SingleDigitCheck(model=model, path=path)


def load_peers(path: Path, width: int | None = None, runtime: str = RUNTIME,
               threads: int | None = None) -> PeerModels:
    """Load a peer bundle (training/peers.py) for ``runtime``; ModelError when it is
    unreadable or of the wrong shape (``width``: the output width of the digit model it
    votes beside)."""
    model = load_network(path, runtime, "Restore it from the repository, bundle new peers with "
                              "`python -m training.peers`, or remove it to read with the digit model alone.", threads)
    _check_shapes(model, path, OUTPUT_WIDTHS if width is None else (width,), "peer probabilities")
    return PeerModels(model=model, path=path, members=peer_members(model))


def load_classifier(path: Path | None = None, batch_size: int = BATCH_SIZE,
                    check: bool = True, sequence: bool | None = None, runtime: str = RUNTIME,
                    threads: int | None = None) -> DigitClassifier:
    """Load a digit model file and check it follows the model contract; with ``check``,
    the shipped single-digit check too. Peers are loaded from ``peers_path(path)`` when
    that file exists (the shipped model has them; another model reads alone unless a
    bundle is put beside it). With ``sequence``, the shipped sequence reader and its
    calibration too (``--reader both`` or ``sequence``); by default, when the default
    reader needs them, so that ``RunOptions()`` reads with what this loads. ``runtime``
    runs them all (docproc.recognize.networks), on ``threads`` threads (None: its default).

    Raises ModelError with what to do when a file is missing, unreadable or has the
    wrong input or output shape.
    """
    path = Path(path) if path is not None else default_model_path()
    if sequence is None:
        sequence = RunOptions().reads_lines
    if batch_size < 1:
        raise ModelError(f"batch size must be at least 1, got {batch_size}")
    model = load_network(path, runtime, f"Pass --model PATH (or set {MODEL_ENV}) to a .keras file, "
                                        "or train one with `python -m training.train`.", threads)
    width = _check_shapes(model, path, OUTPUT_WIDTHS, "probabilities")
    peers_file = peers_beside(path)
    peers = load_peers(peers_file, width, runtime, threads) if peers_file is not None else None
    classifier = DigitClassifier(model=model, path=path, batch_size=batch_size,
                                 check=load_single_digit_check(runtime=runtime, threads=threads) if check else None,
                                 peers=peers,
                                 sequence=load_sequence_reader(runtime=runtime, threads=threads) if sequence else None)
    # The first prediction probes devices (and on a CPU-only TensorFlow build, fails a CUDA
    # probe out loud); do it here, under capture, on one blank digit.
    with captured_native_stderr():
        classifier.predict(np.zeros((1, 28, 28), np.float32))
    return classifier


def load_sequence_reader(path: Path | None = None, calibrated: bool = True, runtime: str = RUNTIME,
                         threads: int | None = None) -> SequenceReader:
    """Load the sequence reader (the shipped one by default) and, with ``calibrated``, the
    calibration fitted beside it; ModelError when a file is missing or unreadable, or the
    reader does not take (N, 32, W, 1) lines to (N, T, SEQUENCE_WIDTH)."""
    path = Path(path) if path is not None else SHIPPED_SEQUENCE
    model = load_network(path, runtime, "Restore docproc/models/sequence-ctc.keras from the repository, train it "
                                        "with `python -m training.train_sequence`, or read with the segmentation "
                                        "alone (--reader segment).", threads)
    input_shape, output_shape = tuple(model.input_shape), tuple(model.output_shape)
    if input_shape[1:] != (HEIGHT, None, 1) or len(output_shape) != 3 or output_shape[2] != SEQUENCE_WIDTH:
        raise ModelError(
            f"Sequence reader {path} takes {input_shape} and returns {output_shape}, but docproc needs "
            f"(N, {HEIGHT}, W, 1) lines in and (N, W / 4, {SEQUENCE_WIDTH}) column probabilities out "
            "(see the sequence reader's contract in docs/model.md)."
        )
    calibration = load_calibration(calibration_path(path)) if calibrated else None
    reader = SequenceReader(model=model, path=path, calibration=calibration)
    with captured_native_stderr():
        reader.read([np.zeros((HEIGHT, MIN_WIDTH), np.float32)])
    return reader
