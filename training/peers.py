"""Train the digit model's peers, bundle them into one model file and write its card.

    python -m training.peers --train                      # train 4 peers (training/train.py), bundle, card
    python -m training.peers --from a.keras b.keras ...   # bundle peers trained already, card
    python -m training.peers --card-only                  # measure the shipped bundle again

Each peer is the shipped architecture trained by ``training.train`` from another seed
(``--seed`` base + 1, + 2, ...) on the same training digits, holding out the same
validation digits (``--split-seed`` base), so the validation split stays unseen by all of
them. The bundle (``docproc/models/digits-cnn.peers.keras``) is one Keras model whose output is
the members' mean probabilities: it follows the model contract itself. docproc averages it
in on the crops the digit model is unsure of (docproc/recognize/classifier.py). Training four peers
takes about 75 minutes on a 2-core CPU and about 5 on a GPU (``KERAS_BACKEND=jax``,
``--data-workers 3``).

The card is measured here on the MNIST test split: the bundle alone, and the digits as
docproc reads them (``DigitClassifier.read``: the digit model, shifted re-reads of unsure
crops, with and without the peers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

from docproc.audit import metrics
from docproc.datasets import mnist
from docproc.errors import ModelError
from docproc.recognize.loading import load_classifier
from docproc.recognize.model_files import SHIPPED_MODEL, companion_path, peers_path
from training.evaluate import ECE_BINS, card_header, library_versions
from training.twins import export_twin

DEFAULT_MEMBERS = 4
SEED_BASE = 20261122  # the shipped model's seed: its validation split is the peers' too


def bundle(member_paths: list[Path], out: Path) -> Path:
    """Save one model whose output is the mean of the members' probabilities."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1), name="digits")
    outputs = []
    for index, path in enumerate(member_paths, 1):
        member = keras.saving.load_model(path, compile=False)
        # Re-wrapped under a name of its own: the members share layer and model names.
        outputs.append(keras.Model(member.input, member.output, name=f"peer{index}")(inputs))
    mean = layers.Average(name="probabilities")(outputs) if len(outputs) > 1 else outputs[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    keras.Model(inputs, mean, name="digits_cnn_peers").save(out)
    export_twin(out)  # reading runs the twin (training/twins.py)
    return out


def train_members(count: int, seed_base: int, folder: Path, train_args: list[str]) -> list[Path]:
    """Train ``count`` peers with training.train into ``folder``; ``train_args`` go to
    each run as they are (``--data-workers``, and ``--limit``/``--epochs`` for smoke runs)."""
    from training import train

    paths = []
    for index in range(1, count + 1):
        path = folder / f"peer{index}.keras"
        train.main(["--seed", str(seed_base + index), "--split-seed", str(seed_base),
                    "--out", str(path), "--no-evaluate", *train_args])
        paths.append(path)
    return paths


def _reading_errors(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    correct = probabilities.argmax(axis=1) == labels
    return {
        "accuracy": float(correct.mean()),
        "errors": int((~correct).sum()),
        "ece": metrics.expected_calibration_error(probabilities.max(axis=1), correct, ECE_BINS),
        "nll": metrics.negative_log_likelihood(probabilities.astype(np.float64), labels),
    }


def card(model_path: Path, command: str, members: list[dict[str, object]]) -> dict[str, object]:
    """The card of the peers beside ``model_path``, measured on the MNIST test split."""
    from dataclasses import replace

    with_peers = load_classifier(model_path, sequence=False)
    peers = with_peers.peers
    if peers is None:
        raise ModelError(f"No peers beside {model_path} (looked for {peers_path(model_path)}). Bundle them "
                         "with `python -m training.peers --train` or `--from PEER.keras ...`.")
    without = replace(with_peers, peers=None)
    test = mnist.load("test")
    x = test.images.astype(np.float32) / 255.0
    alone = peers.predict(x)
    return {
        **card_header(peers.path, f"(N, {int(peers.model.output_shape[-1])}) mean of the members' calibrated "
                      "class probabilities",
                      int(peers.model.count_params())),
        "members": peers.members,
        "peer_of": model_path.name,
        "test": {
            "split": "MNIST t10k (10,000 digits, writers disjoint from training)",
            "digits": int(len(test.labels)),
            "bundle_alone": _reading_errors(alone, test.labels),
            "as_docproc_reads": {
                "what": "DigitClassifier.read: the digit model, with crops under its unsure threshold read "
                        "again shifted by a pixel each way (and by the peers)",
                "without_peers": _reading_errors(without.read(x).probabilities, test.labels),
                "with_peers": _reading_errors(with_peers.read(x).probabilities, test.labels),
            },
        },
        "data": {"source": f"npm {mnist.NPM_PACKAGE}", "sha256": mnist.SHA256},
        "training": {"members": members},
        "libraries": library_versions(),
        "evaluation": {"command": command, "date": dt.date.today().isoformat()},
    }


def _member_log(path: Path) -> dict[str, object]:
    log_path = companion_path(path, "training.json")
    if not log_path.is_file():
        return {"file": path.name}
    log = json.loads(log_path.read_text())
    log.pop("history", None)
    return log


def main(argv: list[str] | None = None) -> Path:
    """Train or take the peers, bundle them beside the digit model, and write the card."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--train", action="store_true", help="train the peers here")
    source.add_argument("--from", dest="members", type=Path, nargs="+", help="peer model files trained already")
    source.add_argument("--card-only", action="store_true", help="measure the existing bundle again")
    parser.add_argument("--count", type=int, default=DEFAULT_MEMBERS, help="peers to train")
    parser.add_argument("--seed", type=int, default=SEED_BASE, help="seed base: peer i trains from seed + i")
    parser.add_argument("--data-workers", type=int, default=1, help="passed to training.train")
    parser.add_argument("--epochs", type=int, default=None, help="passed to training.train (default: its own)")
    parser.add_argument("--limit", type=int, default=0, help="passed to training.train: smoke runs")
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="the digit model these are peers of")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    out = peers_path(args.model)
    card_file = companion_path(out, "json")
    command = shlex.join(["python", "-m", "training.peers", *argv])
    if args.card_only:
        members = json.loads(card_file.read_text())["training"]["members"] if card_file.is_file() else []
    else:
        with tempfile.TemporaryDirectory(prefix="docproc-peers-") as tmp:
            train_args = ["--data-workers", str(args.data_workers), "--limit", str(args.limit),
                          *(["--epochs", str(args.epochs)] if args.epochs else [])]
            paths = train_members(args.count, args.seed, Path(tmp), train_args) if args.train else args.members
            members = [_member_log(path) for path in paths]
            bundle(paths, out)
    result = card(args.model, command, members)
    card_file.write_text(json.dumps(result, indent=2) + "\n")
    reads = result["test"]["as_docproc_reads"]  # type: ignore[index]
    print(f"{out.name}: {result['members']} peers; MNIST test errors as docproc reads "
          f"{reads['without_peers']['errors']} without them, {reads['with_peers']['errors']} with them; "
          f"card written to {card_file}")
    return out


if __name__ == "__main__":
    main()
