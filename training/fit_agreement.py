"""Fit the calibration of the two readers' confidence (docproc/models/sequence-ctc.agreement.json).

    python -m training.fit_agreement [--cheques 400 --forms 100 --zips 200] [--seed 20261203]

Generated pages (samples.pages.write_set) written with MNIST's validation digits, which
neither the digit model nor the sequence reader trained on, are read by both readers as
``docproc run`` reads them (the same stages: prepare_page, the classifier, decode_field,
the sequence reader, agreement.weigh). For every field with a truth this gives the
evidence on the chosen reading (each reader's probability of it, and whether they
agreed) and whether it is right; a logistic regression of right on the evidence is the
``both`` calibration. The sequence reader's own confidence is fitted the same way on
its best reading alone. The fitted numbers, the data they came from and the fit's
calibration error go to the JSON file beside the reader.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from docproc.audit import metrics  # noqa: E402
from docproc.audit.metrics import fit_logistic  # noqa: E402
from docproc.config import RunOptions  # noqa: E402
from docproc.ingest.inputs import discover  # noqa: E402
from docproc.layout.templates import load_template  # noqa: E402
from docproc.recognize.agreement import FLOOR, Calibration, Evidence, constraints_of, weigh  # noqa: E402
from docproc.recognize.classifier import DigitClassifier  # noqa: E402
from docproc.recognize.ctc import beam_search  # noqa: E402
from docproc.recognize.decode import decode_field  # noqa: E402
from docproc.recognize.field_reading import field_readings, piece_owners, read_needed  # noqa: E402
from docproc.recognize.model_files import SHIPPED_SEQUENCE, calibration_path  # noqa: E402
from docproc.run.prepare import file_pages, prepare_page  # noqa: E402
from samples.pages import write_set  # noqa: E402
from samples.reading import KINDS  # noqa: E402
from training.train_sequence import source_digits  # noqa: E402


def field_evidence(scans: Path, templates: Path, truth: dict[tuple[str, int, str], str],
                   classifier: DigitClassifier) -> list[tuple[Evidence, str, float, bool]]:
    """For each field with a truth: both readers' evidence and the truth, and the sequence
    reader's best probability alone and whether that reading is right."""
    assert classifier.sequence is not None
    out = []
    for kind, template_name in KINDS:
        template = load_template(templates / f"{template_name}.yaml") if template_name else None
        options = RunOptions(template=template)
        for item in discover([str(scans / kind)], root=scans):
            for page in file_pages(item, options):
                prepared = prepare_page(page, template, lines=True)
                fields = list(prepared.fields)
                crops = np.concatenate([f.crops for f in fields]) if fields else np.zeros((0, 28, 28), np.float32)
                read = read_needed(classifier, crops, piece_owners([f.layout for f in fields]))
                columns = classifier.sequence.read([f.line for f in fields if f.line is not None])
                at = 0
                for field, field_columns in zip(fields, columns):
                    end = at + len(field.crops)
                    readings = field_readings(field.layout, read.probabilities[at:end],
                                              None if read.singles is None else read.singles[at:end])
                    at = end
                    expected = truth.get((item.name, page.number, field.name))
                    if expected is None:
                        continue
                    segmented = decode_field(readings, field.spec, options.review_below, field.doubt)
                    evidence = weigh(segmented, readings, field_columns, field.spec)
                    alone = beam_search(field_columns, constraints_of(field.spec), best=1)
                    out.append((evidence, expected, alone[0].probability if alone else 0.0,
                                bool(alone) and alone[0].digits == expected))
    return out


def main(argv: list[str] | None = None) -> Path:
    """Generate, read, fit, and write the calibration beside the sequence reader."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequence", type=Path, default=SHIPPED_SEQUENCE)
    parser.add_argument("--cheques", type=int, default=400)
    parser.add_argument("--forms", type=int, default=100)
    parser.add_argument("--zips", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)
    from dataclasses import replace

    from docproc.recognize.loading import load_classifier, load_sequence_reader

    # The reader being fitted, uncalibrated: the shipped calibration may be the stale one this replaces.
    classifier = replace(load_classifier(sequence=False), sequence=load_sequence_reader(args.sequence, calibrated=False))
    with tempfile.TemporaryDirectory(prefix="docproc-agreement-") as tmp:
        out = Path(tmp)
        write_set(out, args.cheques, args.forms, args.zips, args.seed, split=source_digits(True))
        with (out / "truth.csv").open(newline="") as handle:
            truth = {(r["file"], int(r["page"]), r["field"]): r["text"] for r in csv.DictReader(handle)}
        evidence = field_evidence(out / "scans", out / "templates", truth, classifier)
    x = np.array([e.features(e.chosen) for e, _, _, _ in evidence])
    right = np.array([e.chosen.digits == truth for e, truth, _, _ in evidence], float)
    alone = np.log(np.maximum(np.array([e[2] for e in evidence]), FLOOR))[:, None]
    alone_right = np.array([e[3] for e in evidence], float)
    weights, bias = fit_logistic(x, right)
    weight, sequence_bias = fit_logistic(alone, alone_right)
    calibration = Calibration(tuple(float(w) for w in weights), bias, float(weight[0]), sequence_bias)
    both = np.array([calibration.both(e) for e, _, _, _ in evidence])
    single = np.array([calibration.sequence(e[2]) for e in evidence])
    data = {
        **calibration.to_json(),
        "fitted_on": {"fields": len(evidence),
                      "disagreements": sum(not e.agree for e, _, _, _ in evidence),
                      "pages": {"cheques": args.cheques, "forms": args.forms * 2, "zips": args.zips},
                      "digits": "MNIST validation digits held out of both readers' training", "seed": args.seed,
                      "both_right": float(right.mean()), "sequence_right": float(alone_right.mean()),
                      "both_ece": metrics.expected_calibration_error(both, right.astype(bool), 15),
                      "sequence_ece": metrics.expected_calibration_error(single, alone_right.astype(bool), 15)},
        "command": shlex.join(["python", "-m", "training.fit_agreement", *argv]),
        "on": dt.date.today().isoformat(),
    }
    path = calibration_path(args.sequence)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data["fitted_on"], indent=2))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
