"""Training: the model layout, BatchNorm folding, and a tiny run that must learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from docproc.recognize.loading import load_classifier


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
    train.main(["--limit", "800", "--val-size", "400", "--epochs", "4", "--batch-size", "64", "--out", str(out)])
    log = json.loads((tmp_path / "tiny.training.json").read_text())
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert (tmp_path / "tiny.curves.png").stat().st_size > 10_000
    assert log["epochs_run"] == 4 and len(log.get("history", {}).get("loss", [])) == 4
    # 800 digits and 4 epochs are far from the target, but chance is 10%: it must learn.
    assert log["best_val_accuracy"] > 0.6
    assert card["test"]["accuracy"] > 0.6
    assert card["training"]["command"].startswith("python -m training.train --limit 800")
    classifier = load_classifier(out)
    assert classifier.predict(np.zeros((3, 28, 28), np.float32)).shape == (3, 10)


def test_a_peer_bundle_outputs_the_mean_of_its_members(tmp_path: Path) -> None:
    from docproc.recognize.loading import load_peers
    from docproc.recognize.model_files import SHIPPED_MODEL
    from training.model import build_inference_model
    from training.peers import bundle

    other = tmp_path / "other.keras"
    build_inference_model(temperature=2.0).save(other)  # random weights: another model
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

    model = tmp_path / "mine.keras"
    model.write_bytes(SHIPPED_MODEL.read_bytes())
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
