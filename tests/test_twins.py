"""The ONNX twins read as their Keras models do (issue: lean runtime), and reading needs
no TensorFlow: the same argmax everywhere, probabilities within 1e-4, the same rows."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from docproc.datasets import mnist, uci_digits
from docproc.glyphs.line_image import line_image
from docproc.output.results import FieldResult
from docproc.recognize.loading import load_classifier
from docproc.recognize.model_files import SHIPPED_CHECK, SHIPPED_MODEL, SHIPPED_SEQUENCE, card_path
from docproc.recognize.networks import OnnxNetwork, twin_path
from docproc.run.fingerprint import file_sha256
from tests.commands import docproc, docproc_reading_install
from training.twins import LOG_TOLERANCE, TOLERANCE, log_difference, probe_crops, probe_lines

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def on_keras():  # type: ignore[no-untyped-def]
    return load_classifier(runtime="keras", sequence=True)


def _agree(expected: np.ndarray, got: np.ndarray) -> None:
    if expected.shape[-1] == 1:
        assert np.array_equal(expected[:, 0] >= 0.5, got[:, 0] >= 0.5)
    else:
        assert np.array_equal(expected.argmax(axis=-1), got.argmax(axis=-1))
    assert float(np.abs(expected - got).max()) <= TOLERANCE
    assert log_difference(expected, got) <= LOG_TOLERANCE  # the decoder weighs the logs


def _scanned_crops(split: mnist.Split) -> np.ndarray:
    from training import field_crops

    return field_crops.harvest(split, 12, 2, 12, seed=24).images.astype(np.float32) / 255.0


@pytest.mark.slow
def test_the_digit_twins_read_test_and_scanned_crops_as_keras_does(shipped_classifier, on_keras,
                                                                   mnist_test: mnist.Split) -> None:
    assert isinstance(shipped_classifier.model, OnnxNetwork)  # the default reads the twins
    # The test split and halves of its digits (pieces of a split, which the check doubts).
    crops = [probe_crops()[..., 0], _scanned_crops(mnist_test)]
    if (DATA / "real-digits").is_dir():
        crops.append(uci_digits.recipe_crops(uci_digits.read_optdigits(DATA / "real-digits" / "optdigits-orig.windep")))
    digits = np.concatenate(crops)
    assert len(digits) > 12_100  # the test split, its halves and some hundred scanned crops at least
    _agree(on_keras.predict(digits), shipped_classifier.predict(digits))
    _agree(on_keras.check.predict(digits)[:, None], shipped_classifier.check.predict(digits)[:, None])
    # As docproc reads them: re-reads of the unsure crops included.
    _agree(on_keras.read(digits).probabilities, shipped_classifier.read(digits).probabilities)


@pytest.mark.slow
def test_the_sequence_twin_reads_lines_as_keras_does(shipped_classifier, on_keras) -> None:
    lines = probe_lines(256, seed=7)
    real = DATA / "orand-car-a-dev" / "images"
    if real.is_dir():  # measuring only: the real cheque amounts as docproc reads them
        lines += [line_image(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)) for path in sorted(real.glob("*.png"))[:120]]
    for expected, got in zip(on_keras.sequence.read(lines), shipped_classifier.sequence.read(lines)):
        _agree(expected, got)


@pytest.mark.slow
def test_both_runtimes_give_the_same_rows_on_the_samples() -> None:
    from docproc import api

    def rows(runtime: str) -> list[object]:
        out = []
        for kind, template in (("cheques", "cheque.yaml"), ("forms", "form.yaml"), ("zips", None)):
            reader = api.Reader(SAMPLES / "templates" / template if template else None, runtime=runtime,
                                root=SAMPLES / "scans")
            out += list(reader.read(SAMPLES / "scans" / kind))
        return out

    twins, keras_rows = rows("onnx"), rows("keras")
    assert len(twins) == len(keras_rows) > 20
    def probabilities_apart(row: FieldResult) -> tuple[FieldResult, list[float]]:
        # The probabilities a row carries (its confidences, its readers' n best), and the rest.
        detail = row.detail
        alternatives = detail.alternatives if detail is not None else ()
        rest = dataclasses.replace(row, confidence=0.0, digit_confidences=(), detail=None if detail is None else
                                   dataclasses.replace(detail, alternatives=tuple((*a[:2], *a[3:]) for a in alternatives)))
        return rest, [row.confidence, *row.digit_confidences, *(a[2] for a in alternatives)]

    for a, b in zip(twins, keras_rows):
        (rest_a, numbers_a), (rest_b, numbers_b) = probabilities_apart(a), probabilities_apart(b)
        assert rest_a == rest_b
        assert np.allclose(numbers_a, numbers_b, atol=TOLERANCE, rtol=0)


def test_each_card_names_its_twin_and_the_twin_its_model() -> None:
    for model in (SHIPPED_MODEL, SHIPPED_CHECK, SHIPPED_SEQUENCE):
        twin = json.loads(card_path(model).read_text())["twin"]
        assert twin["file"] == twin_path(model).name
        assert twin["file_sha256"] == file_sha256(twin_path(model))
        assert twin["exported_from_sha256"] == file_sha256(model)
        assert twin["agreement"]["max_abs_difference"] <= TOLERANCE and twin["agreement"]["argmax_agreement"] == 1.0
        assert twin["agreement"]["max_log_difference"] <= LOG_TOLERANCE


def test_docproc_model_reports_the_keras_file_and_its_twin() -> None:
    result = docproc("model")
    assert result.returncode == 0, result.stderr
    assert "twin         digits-cnn.onnx  (sha256" in result.stdout
    assert "read with --runtime onnx (the default); --runtime keras reads digits-cnn.keras" in result.stdout
    assert result.stdout.count("twin ") >= 3  # the digit model, the check, the sequence reader


@pytest.mark.slow
def test_the_default_install_reads_without_tensorflow_or_pandas_and_help_loads_no_model(tmp_path: Path) -> None:
    """What the extras bring is blocked: reading still gives the bytes a full install gives,
    and the commands that need an extra say which to install."""
    cheques, template = str(SAMPLES / "scans" / "cheques"), str(SAMPLES / "templates" / "cheque.yaml")
    run = docproc_reading_install("run", cheques, "--template", template, "-o", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "onnxruntime" in run.stderr.splitlines()[-1]
    source = subprocess.run([sys.executable, "-m", "docproc.cli", "run", cheques, "--template", template,
                             "-o", str(tmp_path / "t.csv")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert source.returncode == 0, source.stderr[-3000:]
    assert (tmp_path / "r.csv").read_bytes() == (tmp_path / "t.csv").read_bytes()

    keras = docproc_reading_install("run", cheques, "--runtime", "keras", "-o", str(tmp_path / "k.csv"), "--force",
                                    cwd=tmp_path)
    assert keras.returncode == 16, keras.stderr[-3000:]
    assert "pip install 'docproc[train]'" in keras.stderr and "Traceback" not in keras.stderr
    for args in (["audit", str(tmp_path / "r.csv"), "--truth", str(SAMPLES / "truth.csv"), "-o", str(tmp_path / "a")],
                 ["model", "--report", str(tmp_path / "m")]):
        audit = docproc_reading_install(*args, cwd=tmp_path)
        assert audit.returncode == 16, (args, audit.stderr[-3000:])
        assert "pip install 'docproc[audit]'" in audit.stderr and "Traceback" not in audit.stderr
        assert not (tmp_path / args[-1]).exists()

    for args in (["--help"], ["run", "--help"], ["template", "check", template]):
        quick = docproc_reading_install(*args, cwd=tmp_path)
        assert quick.returncode == 0, quick.stderr[-3000:]
        assert quick.stderr.splitlines()[-1].strip() == "loaded:", (args, quick.stderr[-500:])
