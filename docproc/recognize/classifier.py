"""The digit model, the single-digit check and the digit model's peers, loaded, and how
docproc reads crops with them: the unsure ones read again, shifted and by the peers.

The model contract (docs/model.md): input (N, 28, 28, 1) float32 in [0, 1], ink high;
output (N, C) calibrated probabilities, C the ten digits or the digits, marks and stroke
of docproc.recognize.classes. The single-digit check (training/single_digit.py)
takes the same crops and returns (N, 1), the probability that a crop is exactly one whole
digit, so the decoder can tell two touching digits, or half a digit, from one digit. The
peers (training/peers.py) follow the model contract too, and vote only on the crops the
digit model is unsure of. Any Keras 3 backend runs them all; with JAX or TensorFlow on a
machine that has a GPU, the backend puts the batches there by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from docproc.config import BATCH_SIZE
from docproc.recognize.batches import predict_in_batches
from docproc.recognize.sequence_reader import SequenceReader

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
    """What the models say of a batch of crops: (N, C) class probabilities, and (N,)
    single-digit check probabilities (None when no check is loaded)."""

    probabilities: np.ndarray
    singles: np.ndarray | None


def shift_crops(crops: np.ndarray, dx: int, dy: int) -> np.ndarray:
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

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N,) float32 probabilities for crops shaped (N, 28, 28) or (N, 28, 28, 1)."""
        return predict_in_batches(self.model, crops, 1)[:, 0]


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

    def predict(self, digits: np.ndarray) -> np.ndarray:
        """The members' mean class probabilities (N, C) for (N, 28, 28[, 1]) crops."""
        return predict_in_batches(self.model, digits, int(self.model.output_shape[-1]))


@dataclass
class DigitClassifier:
    """A loaded digit model, the single-digit check the decoder weighs splits with (None:
    readings are judged by the digit model alone), and the peer models that vote on the
    crops the digit model is unsure of (None: it reads alone). ``batch_size`` is how many
    crops a run gathers across fields, pages and files before it classifies them; the
    models themselves always run MODEL_ROWS crops a call (docproc.recognize.batches)."""

    model: Any
    path: Path
    batch_size: int = BATCH_SIZE
    check: SingleDigitCheck | None = None
    peers: PeerModels | None = None
    # The second reader (docproc.recognize.sequence_reader), loaded when a run reads with it.
    sequence: SequenceReader | None = None

    def predict(self, digits: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C) float32 for digits shaped (N, 28, 28) or (N, 28, 28, 1):
        the model's own, one pass (what the model card measures)."""
        return predict_in_batches(self.model, digits, self.width)

    @property
    def width(self) -> int:
        """How many classes the model tells apart (docproc.recognize.classes)."""
        return int(self.model.output_shape[-1])

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
            shifted = self.predict(np.concatenate([shift_crops(crops, dx, dy) for dx, dy in SHIFTS]))
            total = probabilities[again] + shifted.reshape(len(SHIFTS), again.size, self.width).sum(axis=0)
            readings = len(SHIFTS) + 1
            if self.peers is not None:
                total += self.peers.members * self.peers.predict(crops)
                readings += self.peers.members
            probabilities[again] = total / readings
        return CropReadings(probabilities, singles)

    def with_batch_size(self, batch_size: int) -> DigitClassifier:
        """The same models (check and peers included), gathering ``batch_size`` crops to classify at a time."""
        return replace(self, batch_size=batch_size)

    def parameter_count(self) -> int:
        """Number of weights in the model."""
        return int(self.model.count_params())
