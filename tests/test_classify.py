"""Loading the model and classifying in batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from docproc.audit import metrics
from docproc.datasets import mnist
from docproc.errors import ModelError
from docproc.recognize.classes import CLASSES
from docproc.recognize.loading import load_classifier, load_single_digit_check
from docproc.recognize.model_files import SHIPPED_CHECK, SHIPPED_MODEL, card_path
from tests.model_copies import copy_model


def test_the_shipped_model_reproduces_its_card(shipped_classifier, mnist_test: mnist.Split) -> None:
    card = json.loads(card_path(shipped_classifier.path).read_text())
    probabilities = shipped_classifier.predict(mnist_test.images.astype(np.float32) / 255.0)
    predicted = probabilities.argmax(axis=1)
    correct = predicted == mnist_test.labels
    assert int((~correct).sum()) == card["test"]["errors"]
    assert float(correct.mean()) == pytest.approx(card["test"]["accuracy"], abs=1e-12)
    # The matrix is of the digit columns; a digit read as a mark is an error all the same.
    assert metrics.confusion_matrix(mnist_test.labels, probabilities[:, :10].argmax(axis=1)).tolist() \
        == card["test"]["confusion_matrix"]
    assert card["test"]["read_as_no_digit"] == int((predicted >= 10).sum())
    ece = metrics.expected_calibration_error(probabilities.max(axis=1), correct, card["calibration"]["bins"])
    assert ece == pytest.approx(card["calibration"]["ece_after"], abs=1e-4)
    assert card["parameters"] == shipped_classifier.parameter_count() <= 500_000
    assert card["data"]["mnist"]["sha256"] == mnist.SHA256
    assert card["classes"] == list(CLASSES) and shipped_classifier.width == len(CLASSES)


def test_results_do_not_depend_on_the_batch_size(shipped_classifier, mnist_test: mnist.Split) -> None:
    from docproc.recognize.classifier import DigitClassifier

    digits = mnist_test.images[:300].astype(np.float32) / 255.0
    reference = shipped_classifier.predict(digits)
    for batch_size in (1, 7, 64, 4096):
        other = DigitClassifier(shipped_classifier.model, shipped_classifier.path, batch_size=batch_size)
        assert np.array_equal(other.predict(digits), reference), batch_size
    # Nor on what else is read with a crop, or where among them it is: every model call
    # has the same shape (batches.MODEL_ROWS), and a crop's reading is a function of the crop.
    order = np.random.default_rng(5).permutation(len(digits))
    assert np.array_equal(shipped_classifier.predict(digits[order]), reference[order])
    assert np.array_equal(shipped_classifier.predict(digits[:13]), reference[:13])


def test_a_classifier_at_another_batch_size_keeps_its_check_and_peers(peered_classifier, mnist_test: mnist.Split) -> None:
    other = peered_classifier.with_batch_size(64)
    assert other.batch_size == 64
    assert other.check.model is peered_classifier.check.model and other.peers.model is peered_classifier.peers.model
    digits = mnist_test.images[:300].astype(np.float32) / 255.0
    digits[::5] = np.roll(digits[::5], 5, axis=2)  # some unsure crops, so the peers vote
    assert np.array_equal(other.read(digits).probabilities, peered_classifier.read(digits).probabilities)


def test_unsure_crops_are_read_again_shifted_and_averaged(peered_classifier, mnist_test: mnist.Split) -> None:
    from docproc.recognize.classifier import NO_DIGIT_BELOW, SHIFTS, UNSURE_BELOW, shift_crops

    digits = mnist_test.images[:2000].astype(np.float32) / 255.0
    digits[::7] = np.roll(digits[::7], 5, axis=2)  # pushed off centre: the model is unsure of some
    once = peered_classifier.predict(digits)
    singles = peered_classifier.check.predict(digits)
    read = peered_classifier.read(digits)
    assert np.array_equal(read.singles, singles)
    again = (once.max(axis=1) < UNSURE_BELOW) & (singles >= NO_DIGIT_BELOW)
    assert 0 < again.sum() < 0.2 * len(digits)
    assert ((once.max(axis=1) < UNSURE_BELOW) & ~again).any()  # unsure, but no digit: left alone
    assert np.array_equal(read.probabilities[~again], once[~again])
    crops = digits[again]
    peers = peered_classifier.peers
    assert peers is not None and peers.members == 2
    expected = (once[again] + sum(peered_classifier.predict(shift_crops(crops, dx, dy)) for dx, dy in SHIFTS)
                + peers.members * peers.predict(crops)) / (len(SHIFTS) + 1 + peers.members)
    assert np.allclose(read.probabilities[again], expected, atol=1e-6)
    assert np.allclose(read.probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_a_model_without_peers_reads_alone(shipped_classifier, tmp_path: Path) -> None:
    from docproc.recognize.classifier import SHIFTS, UNSURE_BELOW, shift_crops

    model = copy_model(SHIPPED_MODEL, tmp_path / "mine.keras")
    alone = load_classifier(model)
    assert alone.peers is None
    crop = np.zeros((1, 28, 28), np.float32)
    crop[0, 6:22, 12:15] = 1.0
    crop[0, 6:9, 9:20] = 1.0  # a T: neither a 1 nor a 7
    once = alone.predict(crop)
    assert once.max() < UNSURE_BELOW
    expected = (once + sum(alone.predict(shift_crops(crop, dx, dy)) for dx, dy in SHIFTS)) / (len(SHIFTS) + 1)
    assert np.allclose(alone.read(crop).probabilities, expected, atol=1e-6)


def test_peers_of_the_wrong_shape_are_refused(tmp_path: Path) -> None:
    from docproc.recognize.model_files import SHIPPED_MODEL, peers_path

    model = copy_model(SHIPPED_MODEL, tmp_path / "mine.keras")
    copy_model(SHIPPED_CHECK, peers_path(model))
    with pytest.raises(ModelError, match=r"needs.*\(N, 19\) peer probabilities"):
        load_classifier(model)


def test_a_missing_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found.*--model.*training.train"):
        load_classifier(tmp_path / "absent.keras")


@pytest.mark.parametrize("runtime", ["onnx", "keras"])
def test_a_corrupt_model_file_is_refused(tmp_path: Path, runtime: str) -> None:
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 this is not a keras archive")
    bad.with_suffix(".onnx").write_bytes(b"\x08\x07 nor an onnx graph")
    with pytest.raises(ModelError, match="Could not load model"):
        load_classifier(bad, runtime=runtime)


def test_a_model_without_its_twin_says_how_to_export_it(tmp_path: Path) -> None:
    alone = tmp_path / "mine.keras"
    alone.write_bytes(SHIPPED_MODEL.read_bytes())
    with pytest.raises(ModelError, match=r"mine.onnx not found.*python -m training.twins .*mine.keras.*--runtime keras"):
        load_classifier(alone)
    assert load_classifier(alone, runtime="keras", check=False, sequence=False).width == 19


def test_a_twin_left_behind_by_a_retrained_model_is_refused(tmp_path: Path) -> None:
    model = copy_model(SHIPPED_MODEL, tmp_path / "mine.keras")
    model.write_bytes(SHIPPED_CHECK.read_bytes())  # another model under the same name
    with pytest.raises(ModelError, match=r"exported from another version of .*mine.keras.*training.twins"):
        load_classifier(model)


def test_a_model_with_the_wrong_contract_is_refused(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((32, 32, 1), name="digits")
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "wrong.keras"
    model.save(path)
    with pytest.raises(ModelError, match=r"needs.*\(N, 28, 28, 1\)"):
        load_classifier(path, runtime="keras")
    model.predict_on_batch(np.zeros((1, 32, 32, 1), np.float32))
    model.export(str(path.with_suffix(".onnx")), format="onnx", verbose=False)  # a twin without docproc's metadata
    with pytest.raises(ModelError, match=r"needs.*\(N, 28, 28, 1\)"):
        load_classifier(path.with_suffix(".onnx"))


def test_the_shipped_single_digit_check_reproduces_its_card(shipped_classifier, mnist_test: mnist.Split) -> None:
    from training import field_crops
    from training.evaluate import marks_test
    from training.single_digit import CARD_PAGES, KINDS, composite_set

    card = json.loads(card_path(SHIPPED_CHECK).read_text())
    test = card["test"]
    x, single, kinds = composite_set(mnist_test.images, test["composites"], [test["seed"], 2], marks_test().images)
    right = (shipped_classifier.check.predict(x) >= 0.5) == single.astype(bool)
    assert float(right.mean()) == pytest.approx(test["accuracy_at_0.5"], abs=2e-3)
    for index, name in enumerate(KINDS):
        assert float(right[kinds == index].mean()) == pytest.approx(test["per_kind"][name]["judged_right"], abs=5e-3)
    # What the decoder relies on: whole digits pass, merges and pieces mostly do not.
    assert test["per_kind"][KINDS[0]]["judged_right"] >= 0.95
    assert test["per_kind"][KINDS[1]]["judged_right"] >= 0.95
    assert test["per_kind"]["a mark or a stroke"]["judged_right"] >= 0.8
    scanned = field_crops.harvest(mnist_test, *CARD_PAGES, seed=test["seed"] + 1)
    accepted = shipped_classifier.check.predict(scanned.images.astype(np.float32) / 255.0) >= 0.5
    assert float(accepted.mean()) == pytest.approx(test["scanned_single_digits"]["accepted"], abs=5e-3)
    assert card["parameters"] == shipped_classifier.check.model.count_params()


def test_a_missing_single_digit_check_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found.*training.single_digit"):
        load_single_digit_check(tmp_path / "absent.keras")


def test_a_digit_model_is_refused_as_the_single_digit_check(shipped_classifier) -> None:
    with pytest.raises(ModelError, match=r"needs.*\(N, 1\) single-digit probabilities"):
        load_single_digit_check(shipped_classifier.path)
