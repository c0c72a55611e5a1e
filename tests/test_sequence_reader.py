"""The second reader: the line image it reads, the shipped sequence model's contract on
TensorFlow and JAX, and `docproc run --reader` end to end on cheques written with MNIST
test digits."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from docproc.config import RunOptions
from docproc.datasets import mnist
from docproc.errors import ModelError
from docproc.glyphs.line_image import HEIGHT, INK_HEIGHT, MIN_WIDTH, WIDTH_STEP, line_image
from docproc.recognize.model_files import SHIPPED_MODEL, SHIPPED_SEQUENCE
from docproc.run.fingerprint import reading_fingerprint
from docproc.run.job import Readers
from tests.model_copies import copy_model

REPO = Path(__file__).resolve().parent.parent


def written(digits: mnist.Split, indices: list[int], gap: int = 4) -> np.ndarray:
    """A grey field (paper 235, ink dark) with the given test digits written side by side."""
    glyphs = [255 - digits.images[i] for i in indices]
    width = sum(g.shape[1] + gap for g in glyphs) + 20
    field = np.full((48, width), 235, np.uint8)
    x = 10
    for glyph in glyphs:
        field[10:38, x : x + 28] = np.minimum(field[10:38, x : x + 28], glyph)
        x += 28 + gap - 10  # MNIST digits sit in a 20 px box: this leaves about ``gap`` between them
    return field


def test_a_field_becomes_one_line_of_fixed_height(mnist_test: mnist.Split) -> None:
    line = line_image(written(mnist_test, [0, 1, 2, 3]))
    assert line.shape[0] == HEIGHT and line.shape[1] % WIDTH_STEP == 0 and line.dtype == np.float32
    rows = np.flatnonzero(line.max(axis=1) > 0)
    assert rows.min() >= (HEIGHT - INK_HEIGHT) // 2 - 1 and rows.max() <= (HEIGHT + INK_HEIGHT) // 2
    assert 0.0 <= line.min() and line.max() <= 1.0
    assert line_image(np.full((40, 120), 235, np.uint8)).shape == (HEIGHT, MIN_WIDTH)
    assert line_image(np.zeros((0, 0), np.uint8)).shape == (HEIGHT, MIN_WIDTH)


@pytest.fixture(scope="module")
def sequence_reader():  # type: ignore[no-untyped-def]
    from docproc.recognize.loading import load_sequence_reader

    return load_sequence_reader()


def test_a_fields_columns_do_not_depend_on_the_fields_read_with_it(sequence_reader, mnist_test: mnist.Split) -> None:
    lines = [line_image(written(mnist_test, list(range(k, k + n)))) for k, n in ((0, 3), (10, 7), (30, 1), (50, 12))]
    alone = [sequence_reader.read([line])[0] for line in lines]
    together = sequence_reader.read(lines[::-1])[::-1]
    for a, b, line in zip(alone, together, lines):
        assert a.shape == (line.shape[1] // WIDTH_STEP, 19)
        assert np.array_equal(a, b)
        assert np.allclose(a.sum(axis=1), 1.0, atol=1e-4)


def test_the_shipped_reader_reads_test_digit_fields(sequence_reader, mnist_test: mnist.Split) -> None:
    from docproc.recognize.ctc import beam_search

    rng = np.random.default_rng(7)
    right, total = 0, 60
    for _ in range(total):
        indices = [int(i) for i in rng.integers(0, 10000, size=int(rng.integers(2, 9)))]
        columns = sequence_reader.read([line_image(written(mnist_test, indices, gap=int(rng.integers(3, 10))))])[0]
        reading = beam_search(columns, best=1)
        right += bool(reading) and reading[0].digits == "".join(str(mnist_test.labels[i]) for i in indices)
    assert right >= 0.8 * total, f"{right}/{total}"


PREDICT_UNDER_JAX = """
import sys, numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from docproc.recognize.loading import load_sequence_reader
lines = np.load(sys.argv[1])
reader = load_sequence_reader(runtime="keras")
np.savez(sys.argv[2], *reader.read([lines[k] for k in lines.files]))
"""


@pytest.mark.slow
def test_jax_backend_reads_lines_as_tensorflow_does(sequence_reader, mnist_test: mnist.Split, tmp_path: Path) -> None:
    lines = [line_image(written(mnist_test, list(range(k, k + 2 + k % 7)))) for k in range(0, 60, 5)]
    np.savez(tmp_path / "lines.npz", *lines)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", PREDICT_UNDER_JAX, str(tmp_path / "lines.npz"),
                             str(tmp_path / "jax.npz")], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = np.load(tmp_path / "jax.npz")
    under_jax = [saved[f"arr_{k}"] for k in range(len(lines))]
    from docproc.recognize.loading import load_sequence_reader

    under_tensorflow = load_sequence_reader(runtime="keras").read(lines)
    for jax_columns, tf_columns in zip(under_jax, under_tensorflow):
        assert np.array_equal(jax_columns.argmax(axis=1), tf_columns.argmax(axis=1))
        assert np.allclose(jax_columns, tf_columns, atol=1e-4)


def test_a_reader_without_its_calibration_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from docproc.recognize.loading import load_sequence_reader

    lonely = copy_model(SHIPPED_SEQUENCE, tmp_path / "sequence-ctc.keras")
    with pytest.raises(ModelError, match="fit_agreement"):
        load_sequence_reader(lonely)
    assert load_sequence_reader(lonely, calibrated=False).calibration is None


def test_the_reader_choice_is_part_of_what_a_ledger_remembers() -> None:
    segment, both = RunOptions(reader="segment"), RunOptions(reader="both")
    files = [SHIPPED_MODEL]
    assert reading_fingerprint(segment, files) != reading_fingerprint(both, files)
    calibration = SHIPPED_SEQUENCE.with_name("sequence-ctc.agreement.json")
    # The files the runtime reads: the twins by default, the .keras files with --runtime keras.
    assert Readers(SHIPPED_MODEL, sequence=True).model_files()[-2:] == [SHIPPED_SEQUENCE.with_suffix(".onnx"),
                                                                       calibration]
    assert Readers(SHIPPED_MODEL, sequence=True, runtime="keras").model_files()[-2:] == [SHIPPED_SEQUENCE,
                                                                                         calibration]


def test_dask_workers_get_the_sequence_reader_and_its_calibration(sequence_reader) -> None:  # type: ignore[no-untyped-def]
    from docproc.recognize.model_files import SHIPPED_CHECK, calibration_path
    from docproc.run.cluster import ModelFiles, classifier_on_worker

    alone = ModelFiles.read(SHIPPED_MODEL, SHIPPED_CHECK, 256)
    models = ModelFiles.read(SHIPPED_MODEL, SHIPPED_CHECK, 256, SHIPPED_SEQUENCE)
    assert not alone.sequence and alone.key != models.key
    assert models.calibration == calibration_path(SHIPPED_SEQUENCE).read_bytes()
    on_worker = classifier_on_worker(models)  # as a worker loads them, from the bytes alone
    assert on_worker.sequence is not None and on_worker.sequence.calibration is not None
    assert on_worker.sequence.calibration == sequence_reader.calibration
    lines = [np.asarray(np.random.default_rng(5).random((32, 96)) > 0.8, np.float32)]
    np.testing.assert_allclose(on_worker.sequence.read(lines)[0], sequence_reader.read(lines)[0], atol=1e-6)


def test_the_pipeline_refuses_a_second_reader_it_was_not_given(shipped_classifier) -> None:
    from docproc.run.pipeline import run_all

    with pytest.raises(ModelError, match="sequence=True"):
        run_all([], replace(shipped_classifier, sequence=None), RunOptions(reader="both"))
