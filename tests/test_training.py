"""Training: the model layout, BatchNorm folding, and a tiny run that must learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from docproc.recognize.classes import CLASSES
from docproc.recognize.loading import load_classifier
from tests.model_copies import copy_model


def test_folded_model_matches_the_training_model() -> None:
    from training.model import build_training_model, fold_for_inference, logits_model

    model = build_training_model()
    rng = np.random.default_rng(0)
    # Give every BatchNorm non-trivial statistics so folding has something to get wrong.
    for layer in model.layers:
        if layer.name.startswith("bn"):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 0.5, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2, var.shape)])
    x = rng.random((16, 28, 28, 1)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    shipped = fold_for_inference(model, temperature=1.7)
    assert np.allclose(np.asarray(logits_model(shipped)(x)), expected, atol=1e-4)
    probabilities = np.asarray(shipped(x))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    scaled = np.exp(expected / 1.7) / np.exp(expected / 1.7).sum(axis=1, keepdims=True)
    assert np.allclose(probabilities, scaled, atol=1e-5)


def test_parameter_budget() -> None:
    from training.model import build_inference_model

    assert build_inference_model().count_params() <= 500_000


@pytest.mark.slow
def test_a_tiny_training_run_learns_and_writes_a_usable_model(tmp_path: Path) -> None:
    from training import train

    out = tmp_path / "tiny.keras"
    run = ["--limit", "800", "--val-size", "400", "--epochs", "4", "--batch-size", "64", "--out", str(out),
           "--checkpoint", str(tmp_path / "checkpoint")]
    # Split over two calls, as a long training is over sessions: the first stops after two
    # epochs with its checkpoint, the second resumes from it.
    train.main([*run, "--epochs-now", "2"])
    assert not out.exists() and json.loads((tmp_path / "checkpoint" / "state.json").read_text())["epochs_done"] == 2
    train.main([*run, "--resume"])
    log = json.loads((tmp_path / "tiny.training.json").read_text())
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert (tmp_path / "tiny.curves.png").stat().st_size > 10_000
    assert log["epochs_run"] == 4 and len(log.get("history", {}).get("loss", [])) == 4
    # 800 digits and 4 epochs are far from the target, but chance is 1 in 19: it must learn.
    assert log["best_val_accuracy"] > 0.5
    assert card["test"]["accuracy"] > 0.5
    assert card["training"]["command"].startswith("python -m training.train --limit 800")
    assert card["tests"]["held_out_fonts"]["count"] > 0 and "optdigits_windep" in card["tests"]
    classifier = load_classifier(out)
    assert classifier.predict(np.zeros((3, 28, 28), np.float32)).shape == (3, len(CLASSES))


def test_a_peer_bundle_outputs_the_mean_of_its_members(tmp_path: Path) -> None:
    from docproc.recognize.loading import load_peers
    from docproc.recognize.model_files import SHIPPED_MODEL
    from training.model import build_inference_model
    from training.peers import bundle
    from training.twins import export_twin

    other = tmp_path / "other.keras"
    build_inference_model(temperature=2.0).save(other)  # random weights: another model
    export_twin(other)
    out = bundle([SHIPPED_MODEL, other], tmp_path / "m.peers.keras")
    peers = load_peers(out)
    assert peers.members == 2
    digits = np.random.default_rng(3).random((5, 28, 28), dtype=np.float32)
    shipped = load_classifier(SHIPPED_MODEL, check=False)
    expected = (shipped.predict(digits) + load_classifier(other, check=False).predict(digits)) / 2
    assert np.allclose(peers.predict(digits), expected, atol=1e-6)


@pytest.mark.slow
def test_peers_are_trained_bundled_and_carded_beside_their_model(tmp_path: Path) -> None:
    from docproc.recognize.model_files import SHIPPED_MODEL, card_path, peers_path
    from training import peers

    model = copy_model(SHIPPED_MODEL, tmp_path / "mine.keras")
    out = peers.main(["--train", "--count", "2", "--limit", "600", "--epochs", "1", "--model", str(model)])
    assert out == peers_path(model)
    card = json.loads(card_path(out).read_text())
    assert card["members"] == 2 and len(card["training"]["members"]) == 2
    assert [m["arguments"]["seed"] for m in card["training"]["members"]] == [peers.SEED_BASE + 1, peers.SEED_BASE + 2]
    assert {m["arguments"]["split_seed"] for m in card["training"]["members"]} == {peers.SEED_BASE}
    classifier = load_classifier(model)
    assert classifier.peers is not None and classifier.peers.members == 2
    reads = card["test"]["as_docproc_reads"]
    assert reads["without_peers"]["errors"] < 100  # the shipped model, whatever two tiny peers say


def test_the_font_list_is_pinned_and_holds_fonts_out_by_face() -> None:
    from docproc.datasets import fonts

    names = [font.name for font in fonts.FONTS]
    assert len(names) == len(set(names)) and names == sorted(names)
    assert all(len(font.sha256) == 64 and font.version for font in fonts.FONTS)
    held = fonts.held_out_fonts()
    assert len(held) == len(fonts.FONTS) // 5 and not set(held) & set(fonts.training_fonts())


def test_font_digits_are_fetched_checked_and_rendered_through_the_recipe(tmp_path: Path) -> None:
    from docproc.datasets import fonts
    from docproc.errors import DatasetError
    from training import sources

    face = fonts.held_out_fonts()[0]
    crops = sources.font_crops((face,), sizes=(40,))
    assert crops.images.shape == (len(sources.FONT_SYMBOLS), 28, 28) and crops.images.dtype == np.uint8
    assert list(crops.labels) == list(range(len(sources.FONT_SYMBOLS)))
    # Every digit and mark was drawn: ink inside the recipe's 20x20 box.
    assert (crops.images.reshape(len(crops.labels), -1).max(axis=1) > 200).all()
    # A file that is not the pinned one is refused, naming the fix.
    bad = tmp_path / face.file_name
    bad.write_bytes(b"not a font")
    with pytest.raises(DatasetError, match="failed its checksum.*fetch it again"):
        fonts.fetch((face,), tmp_path)


def test_the_writer_independent_digits_are_never_training_data() -> None:
    from training import sources

    with pytest.raises(ValueError, match="never training data"):
        sources.uci_crops((*sources.UCI_TRAINING_FILES, sources.UCI_TEST_FILE))
    uci = sources.uci_crops()
    assert len(uci) == 1593 + 1934 + 946 and set(np.unique(uci.labels)) == set(range(10))


def test_the_sequence_fields_write_the_uci_training_writers_never_windep() -> None:
    from docproc.datasets import uci_digits
    from training import sequence_fields, sources

    images, labels = sequence_fields._uci_bitmaps()
    assert images.shape == (1593 + 1934 + 946, 32, 32) and set(np.unique(labels)) == set(range(10))
    # semeion's 16x16 pixels are doubled, not resampled: each stays a 2x2 block of one value.
    semeion = images[:1593]
    assert (semeion[:, ::2, ::2] == semeion[:, 1::2, 1::2]).all()
    windep = uci_digits.read_optdigits(sources.REAL_DIGITS / sources.UCI_TEST_FILE).images
    assert not (images[1593:, None] == windep[None, :50]).all(axis=(2, 3)).any()


def test_an_epoch_of_the_mix_is_a_pure_function_of_seed_and_epoch() -> None:
    from docproc.recognize.classes import CLASSES, DIGITS
    from training import sources

    rng = np.random.default_rng(0)
    tiny = sources.Crops(rng.integers(0, 255, (30, 28, 28), dtype=np.uint8), rng.integers(0, 10, 30).astype(np.uint8))
    rendered = sources.Crops(rng.integers(0, 255, (36, 28, 28), dtype=np.uint8),
                             np.tile(np.arange(len(sources.FONT_SYMBOLS)), 2).astype(np.uint8))
    mix = sources.Mix(tiny, tiny, rendered, uci_per_epoch=12, font_digits_per_epoch=10, marks_per_epoch=20,
                      pen_digits_per_epoch=15)
    x, y = sources.epoch_crops(mix, 7, 3)
    again_x, again_y = sources.epoch_crops(mix, 7, 3)
    assert np.array_equal(x, again_x) and np.array_equal(y, again_y)
    assert x.shape == (30 + 12 + 10 + 20 + 15, 28, 28, 1) and x.dtype == np.float32
    assert (y >= len(DIGITS)).sum() == 20 and y.max() < len(CLASSES)
    other_x, _ = sources.epoch_crops(mix, 7, 4)
    assert not np.array_equal(x, other_x)


def test_drawn_marks_are_their_class_at_the_size_a_pen_gives_them() -> None:
    from docproc.recognize.classes import class_of
    from training import sources

    rng = np.random.default_rng(1)
    for symbol in sources.DRAWN_SYMBOLS:
        ink = sources.draw_mark(symbol, rng)
        assert ink.max() > 0.5, symbol
    crops = sources.drawn_crops(90, np.random.default_rng(2))
    assert set(crops.labels) <= {class_of(s) for s in sources.DRAWN_SYMBOLS} and len(set(crops.labels)) >= 6


def test_every_pen_style_draws_its_digit_and_the_draws_differ() -> None:
    from docproc.glyphs.normalize import normalize_glyph
    from docproc.recognize.classes import class_of
    from training import pen_digits, sources

    rng = np.random.default_rng(3)
    for digit, styles in pen_digits.STYLES.items():
        for style in styles:
            first, second = (normalize_glyph(pen_digits._draw_style(style, digit, rng)) for _ in range(2))
            # Ink inside the canvas (the recipe put it in its 20x20 box), and two draws of
            # one style are not the same digit twice.
            assert first.max() > 0.5 and (first > 0.3).sum() > 20, digit
            assert np.abs(first - second).mean() > 0.01, digit
    crops = sources.pen_digit_crops(60, np.random.default_rng(4))
    again = sources.pen_digit_crops(60, np.random.default_rng(4))
    assert np.array_equal(crops.images, again.images)
    assert set(crops.labels) == {class_of(d) for d in "0123456789"}


def test_a_cursive_join_runs_from_one_digit_into_the_next_and_spans_no_wide_gap() -> None:
    import cv2

    from training import pen_digits, sequence_fields

    rng = np.random.default_rng(5)
    joined = 0
    for _ in range(20):
        left, right = (sequence_fields._ink_box(pen_digits.draw_digit(d, rng)) for d in "27")
        for gap, may_join in ((3, True), (3 * max(left.shape[0], right.shape[0]), False)):
            height = max(left.shape[0], right.shape[0])
            ink = np.zeros((height, left.shape[1] + gap + right.shape[1]), np.float32)
            ink[: left.shape[0], : left.shape[1]] = left
            ink[: right.shape[0], left.shape[1] + gap :] = right
            before = ink.copy()
            sequence_fields._ligature(ink, (left, 0, 0), (right, left.shape[1] + gap, 0), rng)
            added = (ink > 0.5) & ~(before > 0.5)
            if not may_join:
                assert not added.any()  # digits a field's height apart are never joined
            elif added.any():
                joined += 1
                # One pen line now: the two digits' ink is connected.
                count, _ = cv2.connectedComponents((ink > 0.3).astype(np.uint8))
                count_before, _ = cv2.connectedComponents((before > 0.3).astype(np.uint8))
                assert count < count_before
    assert joined >= 10  # a 2 ends low on the right and a 7 begins high on the left: most pairs join


def test_the_elastic_bend_moves_ink_but_keeps_it() -> None:
    from training import pen_digits, sequence_fields

    rng = np.random.default_rng(6)
    ink = sequence_fields._ink_box(pen_digits.draw_digit("9", rng))
    bent = sequence_fields._elastic(ink, rng)
    assert bent.shape[0] > ink.shape[0] and bent.shape[1] > ink.shape[1]  # room for ink pushed out
    assert abs(bent.sum() - ink.sum()) < 0.1 * ink.sum()
    pad = (bent.shape[0] - ink.shape[0]) // 2
    assert np.abs(bent[pad : pad + ink.shape[0], pad : pad + ink.shape[1]] - ink).mean() > 0.005


@pytest.mark.slow
def test_a_warm_restart_goes_on_from_the_shipped_reader_and_resumes(tmp_path: Path) -> None:
    import shutil

    from docproc.recognize.model_files import SHIPPED_SEQUENCE, companion_path
    from training import train_sequence

    out = tmp_path / SHIPPED_SEQUENCE.name
    shutil.copy(SHIPPED_SEQUENCE, out)
    shutil.copy(companion_path(SHIPPED_SEQUENCE, "training.json"), companion_path(out, "training.json"))
    before = json.loads(companion_path(out, "training.json").read_text())
    small = ["--fields", "64", "--validation-fields", "24", "--learning-rate", "2e-4", "--out", str(out),
             "--checkpoint", str(tmp_path / "checkpoint")]
    with pytest.raises(SystemExit):  # a restart is a new cycle, not the continuation of one
        train_sequence.main([*small, "--more-epochs", "2", "--resume"])
    # Stopped after its first epoch, as a session's time runs out, then resumed.
    train_sequence.main([*small, "--more-epochs", "2", "--minutes", "0.001"])
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["epochs_done"] == before["epochs_done"] + 1 and state["cycle_start"] == before["epochs_done"]
    train_sequence.main([*small, "--resume", "--epochs", str(before["epochs_done"] + 2)])
    log = json.loads(companion_path(out, "training.json").read_text())
    assert log["epochs_done"] == before["epochs_done"] + 2 == len(log["history"]["loss"])
    assert log["history"]["loss"][: before["epochs_done"]] == before["history"]["loss"]
    assert log["continued"][-1]["after_epoch"] == before["epochs_done"]
    assert "warm restart" in log["continued"][-1]["optimizer"]
    assert log["continued"][-1]["fields"]["sources"] == train_sequence.sequence_fields.SOURCE_SHARES
    assert log["wall_seconds"] > before["wall_seconds"] and log["cycle_start"] == before["epochs_done"]
    # The shipped best stays the best unless an epoch of the restart beats it.
    assert log["best_epoch"] == before["best_epoch"] or log["best_epoch"] > before["epochs_done"]
    assert out.with_suffix(".onnx").is_file()
