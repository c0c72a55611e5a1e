"""Train the digit CNN from scratch on MNIST and write the shipped model and its card.

    python -m training.train                       # the shipped model (see models/digits-cnn.json)
    python -m training.train --limit 600 --epochs 2 --out /tmp/tiny.keras   # a smoke run

Each epoch's augmented data is a pure function of (seed, epoch) and is prepared in a
separate process while the previous epoch trains, so the two CPU loads overlap and a
rerun with the same seed sees the same data. The validation split is held out of the
training digits (never the test split) and drives early stopping, the best-epoch
choice and the temperature fit. The test split is only touched by training/evaluate.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import shlex
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from docproc.datasets import mnist
from training import augment
from training.calibration import fit_temperature

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "models" / "digits-cnn.keras"


def epoch_data(images: np.ndarray, labels: np.ndarray, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """The shuffled, augmented training set of one epoch: a pure function of its arguments."""
    order = np.random.default_rng([seed, epoch, 0]).permutation(len(images))
    x = augment.augment_batch(images[order], seed=[seed, epoch, 1])
    return x[..., None], labels[order]


def exact_matmuls() -> contextlib.AbstractContextManager[object]:
    """Full float32 convolutions and products while tracing under it. On a GPU, JAX
    multiplies in TF32 by default, which moves the logits by about 0.01: more than the
    folding check allows, and not what a CPU will compute from the saved file."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.default_matmul_precision("highest")
    return contextlib.nullcontext()


def split_validation(split: mnist.Split, val_size: int, seed: int) -> tuple[mnist.Split, mnist.Split]:
    """Hold out ``val_size`` random training digits for validation."""
    order = np.random.default_rng([seed, 999]).permutation(len(split.labels))
    val, train = order[:val_size], order[val_size:]
    return mnist.Split(split.images[train], split.labels[train]), mnist.Split(split.images[val], split.labels[val])


def machine_description() -> dict[str, object]:
    """What the run happened on, for the card: CPU model, cores, accelerator, backend."""
    import keras

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    accelerators: list[str] = []
    if keras.backend.backend() == "jax":
        import jax

        accelerators = [str(d) for d in jax.devices() if d.platform != "cpu"]
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        accelerators = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "accelerators": accelerators,
        "keras_backend": keras.backend.backend(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def save_curves(history: dict[str, list[float]], path: Path) -> None:
    """Accuracy and loss per epoch, training and validation, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    ax_acc.plot(epochs, history["accuracy"], label="training (augmented)")
    ax_acc.plot(epochs, history["val_accuracy"], label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    ax_loss.plot(epochs, history["loss"], label="training (augmented)")
    ax_loss.plot(epochs, history["val_loss"], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss", yscale="log")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30, help="most epochs to train (cosine schedule spans them)")
    parser.add_argument("--patience", type=int, default=8, help="stop after this many epochs without a better validation loss")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=20261122, help="seed of the weights, shuffling and augmentation")
    parser.add_argument("--split-seed", type=int, default=None,
                        help="seed of the validation hold-out (default: --seed); models that share it hold out the same digits")
    parser.add_argument("--data-workers", type=int, default=1,
                        help="processes preparing the next epochs' augmented data (more when the accelerator outruns one)")
    parser.add_argument("--val-size", type=int, default=5000, help="training digits held out for validation")
    parser.add_argument("--limit", type=int, default=0, help="train on only this many digits (smoke runs and tests)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the .keras model")
    parser.add_argument("--no-evaluate", action="store_true", help="skip writing the model card")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    """Train, calibrate, fold, save; then evaluate on the test split and write the card."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    import keras

    from docproc.recognize.model_files import companion_path
    from training.evaluate import library_versions
    from training.model import batchnorm_momentum, build_training_model, fold_for_inference, logits_model

    started = time.time()
    keras.utils.set_random_seed(args.seed)
    full = mnist.load("train")
    if args.limit:
        full = mnist.Split(full.images[: args.limit + args.val_size], full.labels[: args.limit + args.val_size])
    split_seed = args.seed if args.split_seed is None else args.split_seed
    train, val = split_validation(full, min(args.val_size, len(full.labels) // 5), split_seed)
    x_val = (val.images.astype(np.float32) / 255.0)[..., None]
    steps = -(-len(train.labels) // args.batch_size)
    print(f"training on {len(train.labels)} digits, validating on {len(val.labels)}; "
          f"backend {keras.backend.backend()}", flush=True)

    model = build_training_model(bn_momentum=batchnorm_momentum(args.epochs * steps))
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.epochs * steps, alpha=0.01)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )

    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "seconds": []}
    best_loss, best_epoch, best_weights = float("inf"), -1, None
    ahead = max(1, args.data_workers)
    # Spawned, not forked: this process already runs the backend's threads. One OpenCV
    # thread each: the augmentation works on 28x28 digits, too small to share out.
    with ProcessPoolExecutor(max_workers=ahead, mp_context=multiprocessing.get_context("spawn"),
                             initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        # Each epoch's data is a pure function of (seed, epoch), so preparing several ahead
        # in parallel gives the same data as one at a time.
        pending = deque(pool.submit(epoch_data, train.images, train.labels, args.seed, e)
                        for e in range(min(ahead, args.epochs)))
        for epoch in range(args.epochs):
            epoch_start = time.time()
            x, y = pending.popleft().result()
            if epoch + ahead < args.epochs:
                pending.append(pool.submit(epoch_data, train.images, train.labels, args.seed, epoch + ahead))
            fit = model.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
            val_loss, val_acc = model.evaluate(x_val, val.labels, batch_size=1000, verbose=0)
            for key, value in (
                ("loss", fit.history["loss"][0]),
                ("accuracy", fit.history["accuracy"][0]),
                ("val_loss", val_loss),
                ("val_accuracy", val_acc),
                ("seconds", time.time() - epoch_start),
            ):
                history[key].append(float(value))
            improved = val_loss < best_loss
            if improved:
                best_loss, best_epoch, best_weights = val_loss, epoch, model.get_weights()
            print(
                f"epoch {epoch + 1:2d}/{args.epochs}  loss {history['loss'][-1]:.4f}  acc {history['accuracy'][-1]:.4f}  "
                f"val_loss {val_loss:.4f}  val_acc {val_acc:.4f}  {history['seconds'][-1]:.0f}s{'  *' if improved else ''}",
                flush=True,
            )
            if epoch - best_epoch >= args.patience:
                print(f"early stop: no better validation loss for {args.patience} epochs", flush=True)
                break
    assert best_weights is not None
    model.set_weights(best_weights)

    with exact_matmuls():
        val_logits = np.asarray(model.predict(x_val, batch_size=1000, verbose=0))
        temperature = fit_temperature(val_logits, val.labels)
        shipped = fold_for_inference(model, temperature)
        folded_logits = np.asarray(logits_model(shipped).predict(x_val, batch_size=1000, verbose=0))
    drift = float(np.abs(folded_logits - val_logits).max())
    if drift > 1e-3:
        raise RuntimeError(f"BatchNorm folding changed the logits by {drift}; refusing to save")
    print(f"temperature {temperature:.4f}; folding drift {drift:.2e}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    shipped.save(args.out)
    save_curves(history, companion_path(args.out, "curves.png"))
    log = {
        "command": shlex.join(["python", "-m", "training.train", *argv]),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "train_digits": int(len(train.labels)),
        "validation_digits": int(len(val.labels)),
        "epochs_run": len(history["loss"]),
        "best_epoch": best_epoch + 1,
        "best_val_loss": float(best_loss),
        "best_val_accuracy": history["val_accuracy"][best_epoch],
        "temperature": temperature,
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine_description(),
        "libraries": library_versions(),
        "history": history,
    }
    companion_path(args.out, "training.json").write_text(json.dumps(log, indent=2) + "\n")
    print(f"saved {args.out} ({shipped.count_params()} parameters) in {log['wall_seconds']:.0f}s", flush=True)
    if not args.no_evaluate:
        from training import evaluate

        evaluate.main(["--model", str(args.out)])
    return args.out


if __name__ == "__main__":
    main()
