"""Loading the model and classifying in batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from docproc import metrics
from docproc.classify import card_path, load_classifier
from docproc.errors import ModelError
from training import data


def test_the_shipped_model_reproduces_its_card(shipped_classifier, mnist_test: data.Split) -> None:
    card = json.loads(card_path(shipped_classifier.path).read_text())
    probabilities = shipped_classifier.predict(mnist_test.images.astype(np.float32) / 255.0)
    predicted = probabilities.argmax(axis=1)
    correct = predicted == mnist_test.labels
    assert int((~correct).sum()) == card["test"]["errors"]
    assert float(correct.mean()) == pytest.approx(card["test"]["accuracy"], abs=1e-12)
    assert metrics.confusion_matrix(mnist_test.labels, predicted).tolist() == card["test"]["confusion_matrix"]
    ece = metrics.expected_calibration_error(probabilities.max(axis=1), correct, card["calibration"]["bins"])
    assert ece == pytest.approx(card["calibration"]["ece_after"], abs=1e-4)
    assert card["parameters"] == shipped_classifier.parameter_count() <= 500_000
    assert card["data"]["sha256"] == data.SHA256


def test_results_do_not_depend_on_the_batch_size(shipped_classifier, mnist_test: data.Split) -> None:
    from docproc.classify import DigitClassifier

    digits = mnist_test.images[:300].astype(np.float32) / 255.0
    reference = shipped_classifier.predict(digits)
    for batch_size in (1, 7, 64, 4096):
        other = DigitClassifier(shipped_classifier.model, shipped_classifier.path, batch_size=batch_size)
        result = other.predict(digits)
        assert np.array_equal(result.argmax(axis=1), reference.argmax(axis=1)), batch_size
        assert np.allclose(result, reference, atol=1e-5), batch_size


def test_a_missing_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found.*--model.*training.train"):
        load_classifier(tmp_path / "absent.keras")


def test_a_corrupt_model_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 this is not a keras archive")
    with pytest.raises(ModelError, match="Could not load model"):
        load_classifier(bad)


def test_a_model_with_the_wrong_contract_is_refused(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((32, 32, 1))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "wrong.keras"
    model.save(path)
    with pytest.raises(ModelError, match=r"needs.*\(N, 28, 28, 1\)"):
        load_classifier(path)
