"""Field accuracy and speed on held-out generated scans, beside Tesseract on the same boxes.

    python -m benchmarks.fields [--cheques 300] [--forms 100] [--zips 300] [--seed 90210]

Generates a held-out set (MNIST test digits, a seed the samples and tests do not use),
reads it with docproc (each kind with its template; zip crops without one), and prints:
whole-field accuracy, digit accuracy (digits aligned by edit distance: matched / (matched
+ substituted + missed + extra), as `docproc audit` reports it), the error rate
among accepted fields when the least confident 5% and 10% go to review, by kind and by
the printed furniture around the field, and pages per second. Beside docproc's field
accuracy it prints the clean-digit ceiling: the share of fields whose every digit the
classifier reads right as the clean MNIST image it was written from, which is about what
a perfect scan and segmentation would give; the fields docproc gets wrong are counted by
whether a digit of theirs is misread even clean. Tesseract 5 (digits
whitelist, one text line) reads the very boxes docproc reported, where it is installed;
it is run on at most ``--tesseract-fields`` fields per kind to bound the time, and its
pages per second are computed from its time per field. The forms are read a second time
with --direct-pdf-scans, and the two readings compared. Where the sequence reader is
shipped, the whole set is read with each ``--reader`` too, side by side. Writes
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy.stats import binomtest  # noqa: E402

from benchmarks.results_file import machine_line, write_section  # noqa: E402
from docproc.audit.scores import NO_DIGIT, aligned_digits, error_at_review_share  # noqa: E402
from docproc.config import READER, READERS  # noqa: E402
from docproc.datasets import mnist  # noqa: E402
from docproc.ingest.inputs import read_kind  # noqa: E402
from docproc.ingest.pages import iter_pages  # noqa: E402
from docproc.output.results import FieldResult, render  # noqa: E402
from docproc.recognize.classifier import DigitClassifier  # noqa: E402
from docproc.recognize.loading import load_classifier  # noqa: E402
from docproc.recognize.model_files import SHIPPED_SEQUENCE  # noqa: E402
from docproc.run.native_memory import keep_freed_memory  # noqa: E402
from samples.pages import write_set  # noqa: E402
from samples.reading import KINDS, KindReading, read_generated_kind, read_generated_set  # noqa: E402

FURNITURE = {
    ("cheques", "date"): "comb", ("cheques", "amount"): "frame",
    ("forms", "account"): "comb", ("forms", "phone"): "underline", ("forms", "amount"): "frame", ("forms", "zip"): "comb",
}


def furniture_of(kind: str, field: str, page: int) -> str:
    """The printed furniture around a field in the generated layouts."""
    if kind == "zips":
        return ["none", "frame", "underline"][page % 3]
    return FURNITURE[(kind, field)]


def scores(pairs: list[tuple[str, str, float]], review_shares: tuple[float, ...] = (0.05, 0.10)) -> dict[str, float]:
    """Field accuracy, digit accuracy, and error among accepted at each review share
    (``error_at_5`` for 5%), from (truth, reading, confidence) triples, defined as
    `docproc audit` defines them."""
    if not pairs:
        return {}
    right = np.array([t == r for t, r, _ in pairs])
    aligned = [pair for t, r, _ in pairs for pair in aligned_digits(t, r)]
    matched = sum(1 for t, r in aligned if t == r != NO_DIGIT)
    confidence = np.array([c for _, _, c in pairs])
    out = {"fields": float(len(pairs)), "field_accuracy": float(right.mean()),
           "digit_accuracy": matched / len(aligned) if aligned else 1.0}
    for share in review_shares:
        out[f"error_at_{int(share * 100)}"] = error_at_review_share(confidence, right, share)
    return out


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def texts_by_field(rows: list[FieldResult]) -> dict[tuple[str, int, str], str]:
    """Each row's text by (file, page, field), the truth's key."""
    return {(r.file, r.page, r.field): r.text for r in rows}


def reading_pairs(reading: KindReading) -> list[tuple[str, str, float]]:
    """(truth, text read, confidence) for each field the truth holds; a field no row
    reported counts as read empty."""
    pairs = [(expected, row.text, row.confidence) for row, expected in zip(reading.rows, reading.truths)
             if expected is not None]  # a row without truth is an extra string, counted through ``missing``
    return pairs + [(t, "", 0.0) for t in reading.missing]


def direct_scans_comparison(work: Path, truth: dict[tuple[str, int, str], str], classifier: DigitClassifier,
                            rendered: KindReading) -> str:
    """The forms read again with --direct-pdf-scans, beside their reading rendered by
    poppler: accuracy, review error, speed, and the fields read differently."""
    direct = read_generated_kind(work, truth, classifier, "forms", direct_pdf_scans=True)
    mine, theirs = scores(reading_pairs(direct)), scores(reading_pairs(rendered))
    direct_texts, rendered_texts = texts_by_field(direct.rows), texts_by_field(rendered.rows)
    keys = [key for key in truth if key[0].startswith("forms/")]
    differ = sum(direct_texts.get(key) != rendered_texts.get(key) for key in keys)
    only_direct = sum(direct_texts.get(key) == truth[key] != rendered_texts.get(key) for key in keys)
    only_rendered = sum(rendered_texts.get(key) == truth[key] != direct_texts.get(key) for key in keys)
    return (f"The forms read again with `--direct-pdf-scans` (each page straight from its JPEG): "
            f"{pct(mine['field_accuracy'])} of fields right against {pct(theirs['field_accuracy'])} rendered by "
            f"poppler, error with 10% reviewed {pct(mine['error_at_10'])} against {pct(theirs['error_at_10'])}, "
            f"{direct.summary.pages / direct.summary.seconds:.1f} pages/s against "
            f"{rendered.summary.pages / rendered.summary.seconds:.1f}. {differ} of {len(keys)} fields read "
            f"differently: {only_direct} right only read directly, {only_rendered} right only rendered.")


def readers_comparison(work: Path, truth: dict[tuple[str, int, str], str], classifier: DigitClassifier,
                      default: list[KindReading]) -> list[str]:
    """The set read with each ``--reader`` (the default's reading is ``default``): field
    accuracy by kind and overall, the error among accepted with 10% reviewed, and pages
    per second by kind; the lines of the table."""
    lines = ["", f"The same fields with each `--reader` (`{READER}` is the default, the reading above):", "",
             "| reader | cheques | forms | zips | all | 95% interval | error, 10% reviewed | cheque pages/s | "
             "form pages/s | zip pages/s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for reader in READERS:
        readings = default if reader == READER else read_generated_set(work, truth, classifier, reader)
        every = [pair for reading in readings for pair in reading_pairs(reading)]
        by_kind = {reading.kind: scores(reading_pairs(reading)) for reading in readings}
        rates = {reading.kind: reading.summary.pages / reading.summary.seconds for reading in readings}
        overall = scores(every)
        low, high = accuracy_interval(every)
        print(reader, {k: round(v["field_accuracy"], 4) for k, v in by_kind.items()},
              {k: round(v, 4) for k, v in overall.items()}, flush=True)
        lines.append(f"| `{reader}` | " + " | ".join(pct(by_kind[k]["field_accuracy"]) for k, _ in KINDS)
                     + f" | {pct(overall['field_accuracy'])} | {pct(low)} to {pct(high)} | {pct(overall['error_at_10'])} | "
                     + " | ".join(f"{rates[k]:.1f}" for k, _ in KINDS) + " |")
    return lines


def _without_probabilities(row: FieldResult) -> dict[str, object]:
    return {key: value for key, value in row.row().items() if key not in ("confidence", "digit_confidences")}


def _difference(row: FieldResult, other: FieldResult) -> str:
    """Where two readings of a field differ in the CSV: the field, then each column's two values."""
    mine, theirs = row.row(), other.row()
    columns = ", ".join(f"{key} {mine[key]} against {theirs[key]}" for key in mine if mine[key] != theirs[key])
    return f"{row.file} page {row.page} {row.field}: {columns}"


def runtimes_comparison(work: Path, truth: dict[tuple[str, int, str], str], default: list[KindReading]) -> str:
    """The set read again with ``--runtime keras`` (the Keras models on TensorFlow) beside
    the default reading (their ONNX twins, ``default``): rows the same but for their
    probabilities, the results CSV's bytes, the largest difference of a probability, and
    pages per second."""
    keras_classifier = load_classifier(runtime="keras")
    keras = read_generated_set(work, truth, keras_classifier)
    rows = [row for reading in default for row in reading.rows]
    keras_rows = [row for reading in keras for row in reading.rows]
    same = sum(_without_probabilities(a) == _without_probabilities(b) for a, b in zip(rows, keras_rows)
               ) if len(rows) == len(keras_rows) else 0
    largest = max((abs(x - y) for a, b in zip(rows, keras_rows)
                   for x, y in zip((a.confidence, *a.digit_confidences), (b.confidence, *b.digit_confidences))),
                  default=0.0)
    identical = render(rows, "csv") == render(keras_rows, "csv")
    differ = [_difference(a, b) for a, b in zip(rows, keras_rows) if a.row() != b.row()]
    where = "; ".join(differ[:5]) + ("; ..." if len(differ) > 5 else "")
    rate = {name: sum(r.summary.pages for r in readings) / sum(r.summary.seconds for r in readings)
            for name, readings in (("onnx", default), ("keras", keras))}
    line = (f"The same set read with `--runtime keras` (the Keras models on TensorFlow) beside the default "
            f"`--runtime onnx` (their ONNX twins): {same} of {len(rows)} rows the same but for their probabilities "
            f"({len(keras_rows)} rows with Keras); the results CSVs {'byte for byte identical' if identical else 'differ'}"
            f"{'' if identical else f' in {len(differ)} rows ({where})'}; the largest difference of a "
            f"field or digit probability {largest:.1e}; {rate['onnx']:.1f} pages/s with the twins against "
            f"{rate['keras']:.1f} with Keras (all kinds, one process).")
    print(line, flush=True)
    return line


def wilson_interval(count: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of the share ``count`` of ``total``."""
    interval = binomtest(count, total).proportion_ci(0.95, method="wilson")
    return float(interval.low), float(interval.high)


def accuracy_interval(pairs: list[tuple[str, str, float]]) -> tuple[float, float]:
    """The 95% Wilson score interval of the share of fields read right, counting the fields
    as independent draws (they are not quite: a test digit can be written in several)."""
    return wilson_interval(sum(1 for t, r, _ in pairs if t == r), len(pairs))


def clean_readable(written_with: dict[tuple[str, int, str], tuple[int, ...]],
                   classifier: DigitClassifier) -> dict[tuple[str, int, str], bool]:
    """For each field, whether docproc's classifier reads every one of its digits right
    as the clean MNIST test image the field was written with."""
    test = mnist.load("test")
    read = classifier.read(test.images.astype(np.float32) / 255.0).probabilities.argmax(axis=1)
    right = read == test.labels
    return {key: bool(right[list(indices)].all()) for key, indices in written_with.items()}


def tesseract_read(crops: list[np.ndarray]) -> tuple[list[str], float]:
    """Tesseract's digit reading of each crop, and the seconds it took."""
    import cv2

    readings = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for index, crop in enumerate(crops):
            path = Path(tmp) / f"{index}.png"
            cv2.imwrite(str(path), crop)
            proc = subprocess.run(
                ["tesseract", str(path), "stdout", "--psm", "7", "-c", "tessedit_char_whitelist=0123456789"],
                capture_output=True, text=True, timeout=60, check=False,
            )
            readings.append("".join(ch for ch in proc.stdout if ch.isdigit()))
    return readings, time.perf_counter() - started


def crops_for(wanted: list[FieldResult], scans: Path) -> list[np.ndarray]:
    """The page pixels inside each row's reported box (the boxes docproc used)."""
    by_file: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, row in enumerate(wanted):
        by_file[row.file][row.page].append(index)
    crops: list[np.ndarray | None] = [None] * len(wanted)
    for name, pages in by_file.items():
        path = scans / name
        for page in iter_pages(path, read_kind(path) or "png"):
            for index in pages.get(page.number, []):
                x, y, w, h = wanted[index].box
                crops[index] = page.image[max(0, y) : y + h, max(0, x) : x + w]
    return [c for c in crops if c is not None]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cheques", type=int, default=300)
    parser.add_argument("--forms", type=int, default=100)
    parser.add_argument("--zips", type=int, default=300)
    parser.add_argument("--seed", type=int, default=90210)
    parser.add_argument("--tesseract-fields", type=int, default=150)
    parser.add_argument("--out", type=Path, default=None, help="keep the generated set here (default: a temporary folder)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    work = args.out or Path(tempfile.mkdtemp(prefix="docproc-bench-"))
    started = time.perf_counter()
    written_with: dict[tuple[str, int, str], tuple[int, ...]] = {}
    truth_rows = write_set(work, args.cheques, args.forms, args.zips, args.seed, written_with=written_with)
    print(f"generated {len(truth_rows)} fields in {time.perf_counter() - started:.0f} s under {work}", flush=True)
    truth = {(f, p, n): t for f, p, n, t in truth_rows}
    keep_freed_memory()  # as the docproc command does before its model loads
    classifier = load_classifier()
    readable = clean_readable(written_with, classifier)
    read_right: dict[tuple[str, int, str], bool] = {}
    has_tesseract = shutil.which("tesseract") is not None

    table, furniture_pairs, all_pairs = [], defaultdict(list), []
    kind_readings = read_generated_set(work, truth, classifier)
    for reading in kind_readings:
        kind, rows, summary = reading.kind, reading.rows, reading.summary
        for row, expected in zip(rows, reading.truths):
            if expected is not None:
                furniture_pairs[furniture_of(kind, row.field, row.page)].append((expected, row.text, row.confidence))
        pairs = reading_pairs(reading)
        all_pairs += pairs
        kind_keys = [key for key in truth if key[0].startswith(kind + "/")]
        texts = texts_by_field(rows)
        read_right.update((key, texts.get(key) == truth[key]) for key in kind_keys)
        result = {"kind": kind, **scores(pairs), "pages_per_s": summary.pages / summary.seconds, "pages": summary.pages,
                  "clean_ceiling": float(np.mean([readable[key] for key in kind_keys]))}
        if has_tesseract:
            sample = [r for r in rows if (r.file, r.page, r.field) in truth][: args.tesseract_fields]
            readings, seconds = tesseract_read(crops_for(sample, work / "scans"))
            tess_pairs = [(truth[(r.file, r.page, r.field)], text, 0.0) for r, text in zip(sample, readings)]
            fields_per_page = len(rows) / max(summary.pages, 1)
            tess_scores = scores(tess_pairs)
            result["tesseract_field_accuracy"] = tess_scores["field_accuracy"]
            result["tesseract_digit_accuracy"] = tess_scores["digit_accuracy"]
            result["tesseract_pages_per_s"] = len(sample) / seconds / fields_per_page
        table.append(result)
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}, flush=True)
    overall = scores(all_pairs)
    overall["clean_ceiling"] = float(np.mean([readable[key] for key in truth]))
    print("overall", {k: round(v, 4) for k, v in overall.items()})
    wrong = [key for key, right in read_right.items() if not right]
    wrong_clean_too = sum(1 for key in wrong if not readable[key])
    decomposition = (
        f"Of the {len(wrong)} fields docproc read wrong, {wrong_clean_too} hold a digit its classifier misreads even as "
        f"the clean MNIST image; the other {len(wrong) - wrong_clean_too} were lost to the scan, the segmentation or the "
        f"crop. {sum(1 for key in truth if not readable[key])} fields in all hold such a digit."
    )
    print(decomposition)
    reader_lines = readers_comparison(work, truth, classifier, kind_readings) if SHIPPED_SEQUENCE.is_file() else []
    runtimes_line = runtimes_comparison(work, truth, kind_readings)
    direct_line = None
    if args.forms:
        direct_line = direct_scans_comparison(work, truth, classifier, next(r for r in kind_readings if r.kind == "forms"))
        print(direct_line)

    tesseract_note = (f"5 with a digits whitelist, `--psm 7`, on the same boxes, first {args.tesseract_fields} fields "
                      "per kind" if has_tesseract else "not installed")
    lines = [
        "## Field accuracy on held-out scans (`python -m benchmarks.fields`)",
        "",
        f"{len(truth)} fields generated with MNIST test digits (seed {args.seed}): {args.cheques} cheques (PNG/JPEG), "
        f"{args.forms} two-page form PDFs, {args.zips} zip-code crops in one TIFF; tilt up to 2 degrees, shift up to 2%, "
        f"blur, noise. Model `{classifier.path.name}`"
        f"{f', single-digit check `{classifier.check.path.name}`' if classifier.check else ''}. "
        f"Tesseract {tesseract_note}. "
        f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
        "",
        "| kind | fields | field acc. | clean-digit ceiling | digit acc. | error, 5% reviewed | error, 10% reviewed "
        "| pages/s | Tesseract field acc. | Tesseract pages/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        tesseract_rate = f"{r['tesseract_pages_per_s']:.2f}" if "tesseract_pages_per_s" in r else "-"
        lines.append(
            f"| {r['kind']} | {int(r['fields'])} | {pct(r['field_accuracy'])} | {pct(r['clean_ceiling'])} | "
            f"{pct(r['digit_accuracy'])} | "
            f"{pct(r['error_at_5'])} | {pct(r['error_at_10'])} | {r['pages_per_s']:.1f} | "
            f"{pct(r.get('tesseract_field_accuracy'))} | {tesseract_rate} |"
        )
    lines.append(
        f"| **all** | {int(overall['fields'])} | {pct(overall['field_accuracy'])} | {pct(overall['clean_ceiling'])} | "
        f"{pct(overall['digit_accuracy'])} | {pct(overall['error_at_5'])} | {pct(overall['error_at_10'])} | | | |"
    )
    low, high = accuracy_interval(all_pairs)
    lines += ["", f"All {len(all_pairs)} fields: {pct(overall['field_accuracy'])} read right, 95% interval "
                  f"{pct(low)} to {pct(high)} (Wilson score interval, fields counted as independent; a test digit "
                  "can be written in more than one field, so the true spread is a little wider)."]
    lines += ["", "The clean-digit ceiling is the share of fields whose every digit docproc's classifier reads right "
                  "as the clean MNIST image the field was written with: about what a perfect scan and segmentation "
                  "would give (a scanned digit is now and then read right where its clean image is not). " + decomposition]
    lines += ["", runtimes_line]
    if direct_line:
        lines += ["", direct_line]
    lines += reader_lines
    lines += ["", "By the printed furniture around the field:", "",
              "| furniture | fields | field acc. | 95% interval | digit acc. | error, 10% reviewed |",
              "|---|---:|---:|---:|---:|---:|"]
    for name in ("comb", "frame", "underline", "none"):
        s = scores(furniture_pairs[name])
        if s:
            low, high = accuracy_interval(furniture_pairs[name])
            lines.append(f"| {name} | {int(s['fields'])} | {pct(s['field_accuracy'])} | {pct(low)} to {pct(high)} | "
                         f"{pct(s['digit_accuracy'])} | {pct(s['error_at_10'])} |")
    lines += ["", "The furniture goes with the kind of field: the underlined ones are mostly ten-digit phone numbers, "
                  "the framed ones short amounts. A field's accuracy falls with its length, so digit accuracy compares "
                  "the furniture more directly."]
    if not args.no_write:
        print(f"written to {write_section('fields', chr(10).join(lines))}")
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
