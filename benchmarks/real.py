"""Real hands: docproc on real cheque amounts and on real single digits, beside Tesseract.

    python -m benchmarks.real [--data ../shared/data] [--report DIR] [--no-write]

Two parts, each skipped with a line that says so when its folder is absent:

1. ``orand-car-a-dev/``: 540 courtesy amounts cut from real scanned cheques (measuring
   only: never trained on, never committed). Each image is one field: ``docproc run``
   reads it with no template, once with each ``--reader`` (segment, sequence, both; the
   segmentation alone when the sequence reader is not there), and the field's reading is the digit strings it reports,
   joined in reading order, with the product of their confidences (0 when it finds
   none). Beside it, Tesseract 5 (digits whitelist, one text line) on the same images
   where it is installed. Field accuracy with its 95% interval, digit accuracy (digits
   aligned by edit distance, as ``docproc audit`` does), the error among accepted fields
   with the least confident 10/20/25/30% reviewed, the calibration error of the field
   confidence (15 bins) as shipped and recalibrated under 5-fold cross-validation, and
   images per second. The reliability diagram is written to
   benchmarks/real-reliability.png (a plot: no image of a cheque is in it). With
   ``--report DIR`` the full ``docproc audit`` report of the run goes to DIR, with the
   gallery of the worst errors cut from the cheques: keep DIR outside the repository.
2. ``real-digits/``: the classifier, as ``docproc classify`` reads a crop, over optdigits'
   writer-independent file (13 writers of its own, never to be trained on) and, for
   reference, optdigits' other two files and semeion (training data of the shipped model
   now: figures on them show what it learned, not how it generalizes). Where the data
   folder has no ``real-digits/``, the copies vendored in training/data/real-digits.

Writes the figures to benchmarks/RESULTS.md (section ``real``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.fields import accuracy_interval, pct, scores, tesseract_read  # noqa: E402
from benchmarks.results_file import machine_line, write_section  # noqa: E402
from docproc.audit import metrics  # noqa: E402
from docproc.audit.scores import calibration_figures  # noqa: E402
from docproc.config import READER, READERS, RUNTIME, RunOptions, default_jobs  # noqa: E402
from docproc.datasets import uci_digits  # noqa: E402
from docproc.ingest.inputs import discover  # noqa: E402
from docproc.output.results import FieldResult, write_csv  # noqa: E402
from docproc.recognize.classifier import DigitClassifier  # noqa: E402
from docproc.recognize.loading import load_classifier  # noqa: E402
from docproc.recognize.model_files import SHIPPED_SEQUENCE, default_model_path  # noqa: E402
from docproc.run.native_memory import keep_freed_memory  # noqa: E402
from docproc.run.pipeline import run_all  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
RELIABILITY_PNG = Path(__file__).resolve().parent / "real-reliability.png"
VENDORED_DIGITS = REPO / "training" / "data" / "real-digits"
REVIEW_SHARES = (0.10, 0.20, 0.25, 0.30)  # 25%: the target of the second-reader issue
ECE_BINS = 15
# The check of the calibration on these fields: Platt scaling fitted on 4 folds, measured on the 5th.
CV_FOLDS, CV_SEED = 5, 20261202


@dataclass(frozen=True)
class FieldReading:
    """One real field: its image's name, the truth, what was read and how sure."""

    file: str
    truth: str
    text: str
    confidence: float
    strings: int


def field_readings(rows: list[FieldResult], truth: dict[str, str]) -> list[FieldReading]:
    """Each image's strings (its rows, in reading order) joined into the field's reading."""
    by_file: dict[str, list[FieldResult]] = {name: [] for name in truth}
    for row in rows:
        if row.status != "error":
            by_file[row.file].append(row)
    return [FieldReading(name, truth[name], "".join(r.text for r in found),
                         float(np.prod([r.confidence for r in found])) if found else 0.0, len(found))
            for name, found in by_file.items()]


def field_scores(pairs: list[tuple[str, str, float]]) -> dict[str, float]:
    """The field benchmark's scores at 10/20/25/30% review, with the share of fields whose
    digit count is right and the calibration error, from (truth, reading, confidence) triples."""
    right = np.array([t == r for t, r, _ in pairs])
    confidence = np.array([c for _, _, c in pairs], np.float64)
    return {**scores(pairs, REVIEW_SHARES),
            "length_right": float(np.mean([len(t) == len(r) for t, r, _ in pairs])),
            "ece": metrics.expected_calibration_error(confidence, right, ECE_BINS),
            "ece_recalibrated": metrics.expected_calibration_error(
                metrics.cross_validated_recalibration(confidence, right, CV_FOLDS, CV_SEED), right, ECE_BINS)}


def read_truth(folder: Path) -> dict[str, str]:
    """labels.csv: each image's digits, left to right, separators left out."""
    with (folder / "labels.csv").open(newline="") as handle:
        return {row["file"]: row["text"] for row in csv.DictReader(handle)}


def write_audit(readings: list[FieldReading], images: Path, out: Path) -> Path:
    """The run's fields as a results CSV and the truth as a truth CSV, audited into ``out``."""
    from docproc.audit import audit_results
    from docproc.ingest.pages import iter_pages

    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for reading in readings:
        height, width = next(iter_pages(images / reading.file, "png")).image.shape
        rows.append(FieldResult(reading.file, 1, "", "amount", reading.text, reading.confidence, (),
                                "ok", "", (0, 0, width, height)))
    write_csv(rows, out / "results.csv")
    with (out / "truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "page", "field", "text"])
        writer.writerows([r.file, 1, "amount", r.truth] for r in readings)
    page, _ = audit_results([out / "results.csv"], out / "truth.csv", out, scans=images)
    return page


def cheque_readings(folder: Path, classifier: DigitClassifier, reader: str = READER,
                    ) -> tuple[list[FieldReading], float]:
    """``docproc run --reader READER`` (no template) over the cheque images: each field's
    reading, and images per second."""
    images = folder / "images"
    files = discover([str(images)], root=images)
    rows, summary = run_all(files, classifier, RunOptions(reader=reader), jobs=default_jobs())
    return field_readings(rows, read_truth(folder)), summary.pages / summary.seconds


def cheques_section(folder: Path, classifier: DigitClassifier, report: Path | None) -> list[str]:
    """Part 1: docproc and Tesseract on the real cheque amounts; the section's lines."""
    images = folder / "images"
    from docproc.audit.plots import reliability

    readers = READERS if classifier.sequence is not None else ("segment",)
    table: list[tuple[str, dict[str, float], float, tuple[float, float] | None]] = []
    for reader in readers:
        found, rate = cheque_readings(folder, classifier, reader)
        pairs = [(r.truth, r.text, r.confidence) for r in found]
        mine = field_scores(pairs)
        low, high = accuracy_interval(pairs)
        print(reader, {k: round(v, 4) for k, v in mine.items()}, f"interval {low:.3f}-{high:.3f}, {rate:.1f} images/s",
              flush=True)
        table.append((f"docproc `--reader {reader}`" + (" (the default)" if reader == READER else ""), mine, rate,
                      (low, high)))
        if reader == READER or len(readers) == 1:
            readings = found
        if classifier.path == default_model_path():
            confidence = np.array([r.confidence for r in found], np.float64)
            right = np.array([r.truth == r.text for r in found])
            png = RELIABILITY_PNG if reader == READER else RELIABILITY_PNG.with_name(f"real-reliability-{reader}.png")
            png.write_bytes(reliability(calibration_figures(confidence, right, ECE_BINS)))
    if report is not None:
        print(f"audit report (with crops of the cheques: keep it out of the repository): "
              f"{write_audit(readings, images, report)}", flush=True)

    if shutil.which("tesseract"):
        from docproc.ingest.pages import iter_pages

        crops = [next(iter_pages(images / r.file, "png")).image for r in readings]
        texts, seconds = tesseract_read(crops)
        theirs = field_scores([(r.truth, text, 0.0) for r, text in zip(readings, texts)])
        print("Tesseract", {k: round(v, 4) for k, v in theirs.items()}, f"{len(crops) / seconds:.1f} images/s", flush=True)
        table.append(("Tesseract 5, digits only, one line", theirs, len(crops) / seconds, None))
    several = sum(r.strings > 1 for r in readings)
    none = sum(r.strings == 0 for r in readings)
    lines = [
        f"{len(readings)} real courtesy amounts (`orand-car-a-dev`, ORAND-CAR-2014 CAR-A, every even-numbered "
        "annotated training image; measuring only), each read by `docproc run` with no template; a field's "
        "reading is its digit strings joined in reading order, its confidence their product. "
        f"{several} fields came out as more than one string, {none} as none.",
        "",
        "| reader | fields right | 95% interval | digits right | digit count right | wrong among accepted, "
        f"{' / '.join(f'{share:.0%}' for share in REVIEW_SHARES)} reviewed | calibration error (ECE) | "
        f"ECE recalibrated here, {CV_FOLDS}-fold CV | images/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s, per_second, bounds in table:
        interval = f"{pct(bounds[0])} to {pct(bounds[1])}" if bounds is not None else "-"
        errors = " / ".join(pct(s[f"error_at_{int(share * 100)}"]) for share in REVIEW_SHARES)
        ece, refit = (f"{s['ece']:.3f}", f"{s['ece_recalibrated']:.3f}") if bounds is not None else ("-", "-")
        lines.append(f"| {name} | {pct(s['field_accuracy'])} | {interval} | {pct(s['digit_accuracy'])} | "
                     f"{pct(s['length_right'])} | {errors} | {ece} | {refit} | {per_second:.1f} |")
    if not shutil.which("tesseract"):
        lines += ["", "Tesseract is not installed here (apt-get install tesseract-ocr): no Tesseract row."]
    if classifier.sequence is None:
        lines += ["", "No sequence reader (docproc/models/sequence-ctc.keras and its calibration): the segmentation alone."]
    lines += ["", "The shipped calibrations were fitted on generated fields only. The column before images/s "
                  "checks them on these real fields: a one-feature logistic recalibration of each reader's field "
                  f"confidence, fitted on {CV_FOLDS - 1} of {CV_FOLDS} folds and measured on the fold it has not "
                  "seen (a measurement only: nothing fitted here ships). Its distance from the ECE before it is how "
                  "much the shift from generated to real writing costs the calibration.",
              "", "Tesseract gives no confidence here, so its \"wrong among accepted\" is its error on all fields. "
                  f"Reliability of the field confidence of `--reader {READER}` on these fields: "
                  f"[`{RELIABILITY_PNG.name}`]({RELIABILITY_PNG.name})"
                  + "".join(f"; of `--reader {r}`: [`real-reliability-{r}.png`](real-reliability-{r}.png)"
                            for r in readers if r != READER) + "."]
    return lines


def digit_accuracy(bitmaps: uci_digits.Bitmaps, classifier: DigitClassifier) -> dict[str, float]:
    """The classifier on bitmaps as ``docproc classify`` reads a crop: right, errors, ECE."""
    crops = uci_digits.recipe_crops(bitmaps)
    probabilities = classifier.read(crops).probabilities
    right = probabilities.argmax(axis=1) == bitmaps.labels
    return {"digits": float(len(right)), "accuracy": float(right.mean()), "errors": float((~right).sum()),
            "ece": metrics.expected_calibration_error(probabilities.max(axis=1).astype(np.float64), right, ECE_BINS)}


def digits_section(folder: Path, classifier: DigitClassifier) -> list[str]:
    """Part 2: the classifier over the UCI real digits; the section's lines."""
    tra_cv = _joined(uci_digits.read_optdigits(folder / "optdigits-orig.tra"),
                     uci_digits.read_optdigits(folder / "optdigits-orig.cv"))
    sets = [("optdigits `windep` (13 writers, never trained on)", uci_digits.read_optdigits(folder / "optdigits-orig.windep")),
            ("optdigits `tra` + `cv` (30 other writers; trained on)", tra_cv),
            ("semeion (about 80 writers; trained on)", uci_digits.read_semeion(folder / "semeion.data"))]
    lines = ["", "Real single digits (UCI, CC BY 4.0), read as `docproc classify` reads a crop (the MNIST recipe, "
                 f"then the digit model with its re-reads{' and peers' if classifier.peers is not None else ''}); "
                 "a crop read as a mark or a stroke counts as wrong:", "",
             "| digits | count | right | errors | calibration error (ECE) |", "|---|---:|---:|---:|---:|"]
    for name, bitmaps in sets:
        s = digit_accuracy(bitmaps, classifier)
        print(name, {k: round(v, 4) for k, v in s.items()}, flush=True)
        lines.append(f"| {name} | {int(s['digits']):,} | {s['accuracy']:.2%} | {int(s['errors'])} | {s['ece']:.3f} |")
    return lines


def _joined(a: uci_digits.Bitmaps, b: uci_digits.Bitmaps) -> uci_digits.Bitmaps:
    return uci_digits.Bitmaps(np.concatenate([a.images, b.images]), np.concatenate([a.labels, b.labels]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the folder holding orand-car-a-dev/ and "
                        "real-digits/ (default: ../shared/data beside the repository)")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the docproc audit report of the cheques here (outside the repository)")
    parser.add_argument("--model", type=Path, default=None,
                        help="another digit model to measure (default: the shipped one); implies --no-write")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    if args.report is not None and args.report.resolve().is_relative_to(REPO):
        parser.error("--report must be outside the repository: the report holds crops of the cheques")

    cheques, digits = args.data / "orand-car-a-dev", args.data / "real-digits"
    if not digits.is_dir():
        digits = VENDORED_DIGITS  # the same files (checksummed), vendored for training
    keep_freed_memory()  # as the docproc command does before its model loads
    classifier = load_classifier(args.model, sequence=SHIPPED_SEQUENCE.is_file())
    started = time.perf_counter()
    sequence = f"; sequence reader `{classifier.sequence.path.name}`" if classifier.sequence is not None else ""
    lines = ["## Real hands (`python -m benchmarks.real`)", "",
             f"Model `{classifier.path.name}` ({classifier.width} classes) with "
             f"{'its peers and ' if classifier.peers is not None else ''}its single-digit check{sequence}, "
             f"read with `--runtime {RUNTIME}` (the default). "
             f"Measured {dt.date.today().isoformat()} on: {machine_line()}.", ""]
    if cheques.is_dir():
        lines += cheques_section(cheques, classifier, args.report)
    else:
        print(f"benchmarks.real: no {cheques}: the cheque part is skipped")
        lines.append("No `orand-car-a-dev/` under the data folder: the cheque part was skipped.")
    if digits.is_dir():
        lines += digits_section(digits, classifier)
    else:
        print(f"benchmarks.real: no {digits}: the single-digit part is skipped")
        lines.append("No `real-digits/` under the data folder: the single-digit part was skipped.")
    print(f"done in {time.perf_counter() - started:.0f} s")
    if not args.no_write and args.model is None:
        print(f"written to {write_section('real', chr(10).join(lines))}")


if __name__ == "__main__":
    main()
