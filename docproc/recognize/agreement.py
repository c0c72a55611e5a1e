"""Two readers of one field: the segmentation's reading and the sequence reader's, and
what the field is when they are weighed together.

The segmentation (decode.py) reads glyph by glyph; the sequence reader (ctc.py) reads
the whole line without cutting it. They fail in different ways, so each candidate
reading (the segmentation's digits, the sequence reader's best digits under the
template's constraints) is scored by both: the segmentation's probability of that
string (``decode.string_score``) and the sequence reader's (its n best readings, or the
CTC probability of the segmentation's string). The candidate with the larger product
wins. The field's confidence is a logistic function of the winner's two probabilities
and of whether the readers agreed, fitted on held-out generated fields
(training/fit_agreement.py) so that it stays a calibrated probability. A field the
readers disagree on says so in its reason when it goes to review.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docproc.errors import ModelError
from docproc.layout.templates import FieldSpec
from docproc.recognize.classes import DIGITS
from docproc.recognize.ctc import (
    UNCONSTRAINED,
    Constraints,
    SequenceReading,
    beam_search,
    best_path_symbols,
    string_log_probability,
)
from docproc.recognize.decode import Reading, string_score
from docproc.recognize.judgement import N_BEST, Alternative, Decoded, judge, meets_rules

FLOOR = 1e-12


def constraints_of(spec: FieldSpec | None) -> Constraints:
    """What the template's field allows, as the beam search's constraints: its length and
    marks prune the search; its pattern, check digit and type (judgement.meets_rules)
    filter the readings found."""
    if spec is None:
        return UNCONSTRAINED
    return Constraints(spec.min_length, spec.max_length, spec.pattern, spec.marks,
                       lambda digits, symbols: meets_rules(digits, symbols, spec))


# The inputs of the both-readers calibration, in the order of its weights.
FEATURES = ("log segmentation probability", "log sequence probability", "agree")


@dataclass(frozen=True)
class Candidate:
    """A reading put to both readers: its digits, its symbols with marks, and each
    reader's probability of those digits."""

    digits: str
    marks: str
    segment_probability: float
    sequence_probability: float


@dataclass(frozen=True)
class Evidence:
    """Both readers' say on one field: each one's digits, whether they agreed, and the
    candidates (the segmentation's reading first, then the sequence reader's where it
    differs)."""

    segment: str
    sequence: str
    agree: bool
    candidates: tuple[Candidate, ...]
    # The sequence reader's n best readings under the template's constraints (N_BEST).
    sequence_best: tuple[SequenceReading, ...] = ()

    @property
    def chosen(self) -> Candidate:
        """The candidate with the larger product of the two readers' probabilities (the
        segmentation's on a tie)."""
        return max(self.candidates, key=lambda c: c.segment_probability * c.sequence_probability)

    def features(self, candidate: Candidate) -> list[float]:
        """The calibration's inputs for one candidate (see FEATURES): log probabilities
        (floored) and agreement."""
        return [math.log(max(candidate.segment_probability, FLOOR)),
                math.log(max(candidate.sequence_probability, FLOOR)), float(self.agree)]


@dataclass(frozen=True)
class Calibration:
    """Logistic maps from the evidence to the probability a reading is right: for both
    readers (weights of ``Evidence.features``) and for the sequence reader alone (weight
    of its log probability)."""

    both_weights: tuple[float, ...]
    both_bias: float
    sequence_weight: float
    sequence_bias: float

    def both(self, evidence: Evidence) -> float:
        """The probability that the field's chosen reading is right."""
        return _logistic(float(np.dot(self.both_weights, evidence.features(evidence.chosen))) + self.both_bias)

    def sequence(self, probability: float) -> float:
        """The probability that the sequence reader's reading (of this probability) is right."""
        return _logistic(self.sequence_weight * math.log(max(probability, FLOOR)) + self.sequence_bias)

    def to_json(self) -> dict[str, object]:
        """The fitted numbers, for the file beside the reader."""
        return {"both": {"weights": list(self.both_weights), "bias": self.both_bias, "features": list(FEATURES)},
                "sequence": {"weight": self.sequence_weight, "bias": self.sequence_bias,
                             "features": ["log sequence probability"]}}


def _logistic(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value)) if value > -700 else 0.0


def load_calibration(path: Path) -> Calibration:
    """The calibration fitted beside a sequence reader; ModelError saying how to fit it
    when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
        calibration = Calibration(tuple(float(w) for w in data["both"]["weights"]), float(data["both"]["bias"]),
                                  float(data["sequence"]["weight"]), float(data["sequence"]["bias"]))
    except FileNotFoundError as exc:
        raise ModelError(f"The readers' calibration {path} is missing. Restore it from the repository, or fit it "
                         "with `python -m training.fit_agreement`.") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"The readers' calibration {path} cannot be read ({exc}). Restore it from the repository, "
                         "or fit it again with `python -m training.fit_agreement`.") from exc
    if len(calibration.both_weights) != len(FEATURES):
        raise ModelError(f"The readers' calibration {path} weighs {len(calibration.both_weights)} inputs, but this "
                         f"docproc weighs {len(FEATURES)} ({', '.join(FEATURES)}): it was fitted for another version. "
                         "Fit it again with `python -m training.fit_agreement`.")
    return calibration


def _sequence_probability(columns: np.ndarray, best: list[SequenceReading], digits: str, marks: str) -> float:
    """The sequence reader's probability of a reading: the best of its n best with those
    digits, or else the CTC probability of the reading as spelled (with its marks, then
    without)."""
    mine = [r.probability for r in best if r.digits == digits]
    if mine:
        return max(mine)
    spelled = max(string_log_probability(columns, marks), string_log_probability(columns, digits))
    return math.exp(spelled) if spelled > -math.inf else 0.0


def weigh(segmented: Decoded, readings: list[Reading], columns: np.ndarray, spec: FieldSpec | None) -> Evidence:
    """Both readers' evidence on one field: each candidate scored by both readers."""
    best = beam_search(columns, constraints_of(spec), best=N_BEST)
    top = best[0] if best else None
    proposed = [(segmented.text, segmented.marks or segmented.text)]
    if top is not None and top.digits != segmented.text:
        proposed.append((top.digits, top.symbols))
    candidates = tuple(Candidate(digits, marks, string_score(readings, digits) if digits else 0.0,
                                 _sequence_probability(columns, best, digits, marks)) for digits, marks in proposed)
    return Evidence(segmented.text, top.digits if top is not None else "", top is not None and top.digits == segmented.text,
                    candidates, tuple(best))


def sequence_digit_confidences(columns: np.ndarray, digits: str, fallback: float) -> tuple[float, ...]:
    """Each digit's confidence from the sequence reader: the highest probability of its
    symbol over the columns of the best path that emit it, when that path spells
    ``digits``; else ``fallback`` for each."""
    emitted = [(symbol, p) for symbol, p in best_path_symbols(columns) if symbol in DIGITS]
    if "".join(ch for ch, _ in emitted) == digits:
        return tuple(p for _, p in emitted)
    return (fallback,) * len(digits)


def decide_both(segmented: Decoded, readings: list[Reading], columns: np.ndarray, spec: FieldSpec | None,
                calibration: Calibration, review_below: float, doubt: str = "",
                blank: bool = False) -> tuple[Decoded, Evidence]:
    """The field as both readers read it together (see the module's docstring), and the
    evidence. ``blank``: no writing in the field's box."""
    evidence = weigh(segmented, readings, columns, spec)
    chosen, confidence = evidence.chosen, calibration.both(evidence)
    if chosen.digits == segmented.text:
        digit_confidences = segmented.digit_confidences
    else:
        digit_confidences = sequence_digit_confidences(columns, chosen.digits, confidence)
    unsure = () if evidence.agree else (f"the readers disagree (segmentation {evidence.segment or 'nothing'}, "
                                        f"sequence {evidence.sequence or 'nothing'})",)
    decoded = judge(chosen.digits, chosen.marks, digit_confidences, confidence, spec, review_below, doubt,
                    blank=blank, unsure=unsure)
    boxes = segmented.digit_boxes if chosen.digits == segmented.text else (None,) * len(chosen.digits)
    return dataclasses.replace(decoded, digit_boxes=boxes,
                               alternatives=segmented.alternatives + _alternatives(evidence.sequence_best)), evidence


def _alternatives(best: tuple[SequenceReading, ...] | list[SequenceReading]) -> tuple[Alternative, ...]:
    return tuple(Alternative(r.digits, r.symbols, r.probability, "sequence") for r in best)


def decide_sequence(columns: np.ndarray, spec: FieldSpec | None, calibration: Calibration, review_below: float,
                    doubt: str = "", blank: bool = False) -> Decoded:
    """The field as the sequence reader alone reads it: its best reading under the
    template's constraints, with its calibrated probability. ``blank``: no writing in the
    field's box."""
    best = beam_search(columns, constraints_of(spec), best=N_BEST)
    if not best:
        return judge("", "", (), 0.0, spec, review_below, doubt, blank=blank)
    top = best[0]
    confidence = calibration.sequence(top.probability)
    decoded = judge(top.digits, top.symbols, sequence_digit_confidences(columns, top.digits, confidence), confidence,
                    spec, review_below, doubt, blank=blank)
    return dataclasses.replace(decoded, digit_boxes=(None,) * len(decoded.text), alternatives=_alternatives(best))
