"""Every figure of an accuracy audit, computed from the joined table (audit/tables.py).

Definitions, so a figure means one thing wherever it is printed:
- field accuracy: truth fields read exactly right / truth fields (missing fields and
  fields on pages the run could not read count as wrong);
- digit alignment: each field's reading is aligned to its truth by edit distance, so a
  missed or an extra digit counts once and does not shift the rest; digit accuracy is
  matched digits / (matched + substituted + missed + extra);
- per-digit precision, recall and F1 come from the aligned pairs: a missed digit is a
  miss of its truth digit, an extra digit a false alarm for the digit read;
- the review trade-off ranks fields by the results' ``confidence`` (missing and error
  fields have none: they go to review first); a threshold accepts fields whose
  confidence is at least the threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from rapidfuzz.distance import Levenshtein

from docproc.audit import metrics

NO_DIGIT = 10  # row / column of the 11x11 digit matrix for a missed or extra digit
RELIABILITY_BINS = 10


def aligned_digits(truth: str, read: str) -> list[tuple[int, int]]:
    """(truth digit, read digit) pairs along the cheapest edit path; NO_DIGIT stands for
    the missing side of a missed or an extra digit."""
    pairs: list[tuple[int, int]] = []
    for tag, t0, t1, r0, r1 in Levenshtein.opcodes(truth, read):
        if tag in ("equal", "replace") and t1 - t0 == r1 - r0:
            pairs.extend((int(truth[t0 + k]), int(read[r0 + k])) for k in range(t1 - t0))
        else:
            pairs.extend((int(ch), NO_DIGIT) for ch in truth[t0:t1])
            pairs.extend((NO_DIGIT, int(ch)) for ch in read[r0:r1])
    return pairs


def digit_matrix(fields: pd.DataFrame) -> np.ndarray:
    """11x11 counts of aligned (truth, read) digits over all fields; index 10 = no digit."""
    matrix = np.zeros((NO_DIGIT + 1, NO_DIGIT + 1), np.int64)
    for truth, read in zip(fields["truth"], fields["text"]):
        for t, r in aligned_digits(truth, "".join(ch for ch in read if ch.isdigit())):
            matrix[t, r] += 1
    return matrix


@dataclass(frozen=True)
class GroupScores:
    """Counts and accuracies of one group of truth fields."""

    fields: int
    right: int
    wrong: int
    missing: int
    error: int
    field_accuracy: float
    truth_digits: int
    digit_errors: int
    digit_accuracy: float


def group_scores(fields: pd.DataFrame) -> GroupScores:
    """Field and digit accuracy of a set of joined truth fields."""
    counts = fields["outcome"].value_counts()
    matrix = digit_matrix(fields)
    matched = int(np.trace(matrix[:NO_DIGIT, :NO_DIGIT]))
    errors = int(matrix.sum()) - matched
    total = len(fields)
    return GroupScores(
        fields=total,
        right=int(counts.get("right", 0)),
        wrong=int(counts.get("wrong", 0)),
        missing=int(counts.get("missing", 0)),
        error=int(counts.get("error", 0)),
        field_accuracy=float(counts.get("right", 0)) / total if total else 0.0,
        truth_digits=int(fields["truth"].str.len().sum()),
        digit_errors=errors,
        digit_accuracy=matched / (matched + errors) if matched + errors else 1.0,
    )


@dataclass(frozen=True)
class ReviewPoint:
    """Accept fields with confidence >= threshold: the share sent to review and the error
    rate among the accepted."""

    threshold: float
    accepted: int
    share_reviewed: float
    error_among_accepted: float


def review_curve(confidence: np.ndarray, right: np.ndarray) -> list[ReviewPoint]:
    """One point per distinct confidence, from accepting everything to accepting nothing."""
    total = len(confidence)
    order = np.argsort(-confidence, kind="stable")
    ranked, wrong = confidence[order], np.cumsum(~right[order])
    points = []
    for threshold in np.unique(confidence)[::-1]:
        accepted = int(np.searchsorted(-ranked, -threshold, side="right"))
        points.append(ReviewPoint(float(threshold), accepted, 1 - accepted / total, float(wrong[accepted - 1]) / accepted))
    points.reverse()
    points.append(ReviewPoint(float("inf"), 0, 1.0, 0.0))
    return points


def threshold_for(curve: list[ReviewPoint], target_error: float) -> ReviewPoint:
    """The lowest threshold whose accepted fields err at most ``target_error`` (the point
    that sends the fewest fields to review); accepting nothing always qualifies."""
    return next(p for p in curve if p.error_among_accepted <= target_error)


def error_at_review_share(confidence: np.ndarray, right: np.ndarray, share: float) -> float:
    """Error among accepted when the least confident ``share`` of fields (by count, ties
    in input order) goes to review."""
    order = np.argsort(-confidence, kind="stable")
    kept = order[: int(round(len(order) * (1 - share)))]
    return float(1.0 - right[kept].mean()) if len(kept) else 0.0


def _errors(point: ReviewPoint) -> int:
    return int(round(point.error_among_accepted * point.accepted))


def accepted_figures(accepted: int, errors: int, total: int) -> dict[str, object]:
    """What accepting ``accepted`` of ``total`` items with ``errors`` wrong among them
    shows: the share reviewed, the error rate seen, and its 95% upper bound."""
    return {"accepted": accepted, "errors": errors, "share_reviewed": 1 - accepted / total if total else None,
            "error_among_accepted": errors / accepted if accepted else None,
            "error_upper_95": metrics.error_upper_bound(errors, accepted)}


def review_figures(confidence: np.ndarray, right: np.ndarray, target_error: float,
                   accepted_by_run: np.ndarray | None = None) -> dict[str, object]:
    """The review trade-off of items (fields or digits) ranked by confidence: the threshold
    that meets ``target_error`` on this sample, its review share, how many it accepts and
    the 95% upper bound of their error rate (Clopper-Pearson: a threshold chosen on a few
    hundred fields may sit just above an error, and "0 wrong" of 222 is consistent with
    a true rate of 1.3%), whether the sample can show the target at all, the lowest
    threshold whose upper bound meets it, the error at 5% and 10% review, the whole
    curve, and, given which items the run accepted itself (status ok under its
    --review-below), what that produced."""
    total = len(confidence)
    curve = review_curve(confidence, right) if total else []
    chosen = threshold_for(curve, target_error) if curve else None
    accepted = [p for p in curve if p.accepted]
    bounds = _upper_bounds(accepted)
    conservative = next((p for p, bound in zip(accepted, bounds) if bound <= target_error), None)
    figures: dict[str, object] = {
        "target_error": target_error,
        "threshold": None if chosen is None or chosen.accepted == 0 else chosen.threshold,
        "share_reviewed": None if chosen is None else chosen.share_reviewed,
        "error_among_accepted": None if chosen is None else chosen.error_among_accepted,
        "accepted": None if chosen is None else chosen.accepted,
        "errors_among_accepted": None if chosen is None else _errors(chosen),
        "error_upper_95": None if chosen is None else metrics.error_upper_bound(_errors(chosen), chosen.accepted),
        "sample_needed": metrics.trials_needed(target_error) if target_error > 0 else None,
        "conservative_threshold": None if conservative is None else conservative.threshold,
        "conservative_share_reviewed": None if conservative is None else conservative.share_reviewed,
        "error_at_5_percent_review": error_at_review_share(confidence, right, 0.05) if total else None,
        "error_at_10_percent_review": error_at_review_share(confidence, right, 0.10) if total else None,
        "curve": [asdict(p) | {"threshold": None if p.accepted == 0 else p.threshold} for p in curve],
    }
    if accepted_by_run is not None and total:
        figures["run"] = accepted_figures(int(accepted_by_run.sum()), int((accepted_by_run & ~right).sum()), total)
    return figures


def _upper_bounds(points: list[ReviewPoint], level: float = 0.95) -> list[float]:
    """Each point's 95% upper bound on the error among its accepted items, at once."""
    from scipy.stats import beta

    if not points:
        return []
    accepted = np.array([p.accepted for p in points])
    errors = np.array([_errors(p) for p in points])
    bounds = beta.ppf(level, errors + 1, np.maximum(accepted - errors, 1))
    return [1.0 if e >= a else float(b) for e, a, b in zip(errors, accepted, bounds)]


def calibration_figures(confidence: np.ndarray, right: np.ndarray, bins: int = RELIABILITY_BINS) -> dict[str, object]:
    """Reliability bins and the expected calibration error of confidences."""
    return {
        "count": int(len(confidence)),
        "bins": [asdict(b) for b in metrics.reliability_bins(confidence, right, bins)],
        "ece": metrics.expected_calibration_error(confidence, right, bins),
    }


def audit_figures(fields: pd.DataFrame, extra: pd.DataFrame, errors: pd.DataFrame,
                  target_error: float) -> dict[str, object]:
    """Every figure of the report, as plain data (what metrics.json holds)."""
    confidence = fields["confidence"].to_numpy(float)
    right = (fields["outcome"] == "right").to_numpy()
    matrix = digit_matrix(fields)
    read = fields["outcome"].isin(["right", "wrong"]).to_numpy()
    per_template = {name or "(none)": asdict(group_scores(group)) for name, group in fields.groupby("template", sort=True)}
    per_field = {
        f"{template or '(none)'} / {name}": asdict(group_scores(group))
        for (template, name), group in fields.groupby(["template", "field"], sort=True)
    }
    return {
        "overall": asdict(group_scores(fields)),
        "extra_rows": int(len(extra)),
        "error_rows": int(len(errors)),
        "per_template": per_template,
        "per_field": per_field,
        "digits": {
            "confusion_matrix": matrix.tolist(),
            "labels": [str(d) for d in range(10)] + ["none"],
            "per_digit": [asdict(s) for s in metrics.per_class_scores(matrix)[:NO_DIGIT]],
        },
        "review": review_figures(confidence, right, target_error, (fields["status"] == "ok").to_numpy()),
        # Over the fields that were read: a missing field has no confidence to judge.
        "calibration": calibration_figures(confidence[read], right[read]),
    }
