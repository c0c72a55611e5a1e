"""The audit's plots as PNG bytes: review trade-off, reliability diagram, digit confusion
matrix and per-digit F1. Drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def review_tradeoff(review: dict[str, Any], unit: str = "fields") -> bytes:
    """Error among accepted ``unit`` against the share sent to review, with the target."""
    curve = review["curve"]
    share = np.array([p["share_reviewed"] for p in curve]) * 100
    error = np.array([p["error_among_accepted"] for p in curve]) * 100
    fig, ax = plt.subplots(figsize=(5.3, 4.0))
    ax.step(share, error, where="post", color="#1f5f8b", label="error among accepted")
    ax.axhline(review["target_error"] * 100, color="#b03a2e", linestyle="--", label=f"target {review['target_error']:.2%}")
    if review["share_reviewed"] is not None:
        ax.axvline(review["share_reviewed"] * 100, color="#7d8c8d", linestyle=":",
                   label=f"review {review['share_reviewed']:.1%} to meet it")
    ax.set(xlabel=f"{unit} sent to review (%)", ylabel=f"wrong among accepted {unit} (%)", xlim=(0, 100),
           title="Review trade-off")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def reliability(calibration: dict[str, Any], unit: str = "fields") -> bytes:
    """Accuracy against confidence per bin (bars), the diagonal a calibrated tool follows,
    and how many ``unit`` fell in each bin."""
    bins = calibration["bins"]
    centres = np.array([(b["lower"] + b["upper"]) / 2 for b in bins])
    width = bins[0]["upper"] - bins[0]["lower"]
    accuracy = np.array([b["accuracy"] if b["count"] else np.nan for b in bins])
    counts = np.array([b["count"] for b in bins])
    fig, (ax, ax_count) = plt.subplots(2, 1, figsize=(5.3, 4.6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.bar(centres, np.nan_to_num(accuracy), width=width * 0.9, color="#1f5f8b", label="share right")
    ax.plot([0, 1], [0, 1], color="#b03a2e", linestyle="--", label="calibrated")
    ax.set(ylabel=f"{unit} read right", ylim=(0, 1), title=f"Reliability (ECE {calibration['ece']:.3f})")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    ax_count.bar(centres, counts, width=width * 0.9, color="#7d8c8d")
    ax_count.set(xlabel="confidence", ylabel=unit, xlim=(0, 1))
    if counts.max() > 50 * max(1, np.median(counts[counts > 0])):
        ax_count.set_yscale("log")  # a model's confidences pile up near 1
    return _png(fig)


def confusion(digits: dict[str, Any]) -> bytes:
    """The 11x11 aligned digit matrix (rows truth, columns reading; 'none' = missed or extra)."""
    matrix = np.array(digits["confusion_matrix"])
    labels = digits["labels"]
    fig, ax = plt.subplots(figsize=(5.3, 4.6))
    shown = np.log1p(matrix)
    ax.imshow(shown, cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            ax.text(col, row, str(value), ha="center", va="center", fontsize=7,
                    color="white" if shown[row, col] > shown.max() * 0.6 else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    aligned = " (aligned by edit distance)" if "none" in labels else ""
    ax.set(xlabel="read", ylabel="truth", title=f"Digit confusion{aligned}")
    return _png(fig)


def per_digit_f1(digits: dict[str, Any]) -> bytes:
    """Precision, recall and F1 of each digit."""
    scores = digits["per_digit"]
    labels = [str(s["label"]) for s in scores]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(5.3, 4.0))
    for offset, key, colour in ((-0.27, "precision", "#7d8c8d"), (0.0, "recall", "#5b9bd5"), (0.27, "f1", "#1f5f8b")):
        ax.bar(x + offset, [s[key] for s in scores], width=0.27, label=key, color=colour)
    low = min([s["f1"] for s in scores if s["support"]] or [0.9])
    ax.set(xticks=x, xlabel="digit", ylim=(max(0.0, min(0.9, low - 0.05)), 1.0), title="Per-digit scores")
    ax.set_xticklabels(labels)
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)
