"""Train the sequence reader from scratch, or go on with a training checkpointed before.

    python -m training.train_sequence                           # the shipped reader (docproc/models/sequence-ctc.keras)
    python -m training.train_sequence --resume                  # go on after the last finished epoch
    python -m training.train_sequence --minutes 90 --resume     # at most 90 minutes now, then stop checkpointed
    python -m training.train_sequence --more-epochs 18 --learning-rate 4e-4   # a warm restart of the shipped reader
    python -m training.train_sequence --fields 400 --epochs 1 --out /tmp/tiny.keras   # a smoke run

Each epoch is ``--fields`` generated fields (training/sequence_fields.py), a pure
function of (seed, epoch), made in a second process while the previous epoch trains.
The lines are batched by width (each batch padded to its widest line, rounded up to a
bucket of 32 columns, so few shapes are traced). Validation is a fixed draw of fields
written with MNIST's held-out digits (the digit model's validation digits, so neither
reader has trained on them) and the training fonts; it picks the best epoch. After every
epoch the run is checkpointed; ``--resume`` continues it, and the time spent over all
sessions is kept in the log beside the model. The checkpoint lives in the user cache; on
a machine without it, ``--resume`` goes on from the shipped reader (its best epoch) and
its log, with the schedule where it stopped and a fresh optimizer, and the log says so.

A finished run's cosine schedule has decayed to its floor; ``--more-epochs K`` goes on from
the shipped reader with a new cosine cycle of K epochs that starts at ``--learning-rate``
and a fresh optimizer (a warm restart, as in SGDR). Its epochs follow the shipped ones, the
shipped best stays the best until an epoch beats it on the same validation fields, and the
log lists the restart; ``--resume --epochs N --learning-rate LR`` (the restarted run's
figures) continues it after an interruption.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shlex
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from docproc.datasets import fonts as font_files
from docproc.datasets import mnist
from docproc.recognize.classes import SEQUENCE_SYMBOLS
from docproc.recognize.model_files import SHIPPED_SEQUENCE
from training import sequence_fields
from training.train import add_checkpoint_options, checkpoint_dir, machine_description, split_validation
from training.twins import export_twin

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = SHIPPED_SEQUENCE
# The digit model's validation hold-out (docproc/models/digits-cnn.training.json): the same
# digits are held out here, so fields written with them are new to both readers.
DIGIT_MODEL_SPLIT_SEED = 20261122
VALIDATION_DIGITS = 5000
BUCKET = 32
MAX_LABEL = 40


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40, help="epochs of the whole run (the cosine schedule spans them)")
    parser.add_argument("--fields", type=int, default=16000, help="generated fields in each epoch")
    parser.add_argument("--validation-fields", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    add_checkpoint_options(parser)
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="stop after the epoch that passes this many minutes in this call (checkpointed; "
                             "continue with --resume)")
    parser.add_argument("--more-epochs", type=int, default=0,
                        help="a warm restart: this many epochs after the shipped reader's, on a new cosine cycle "
                             "from --learning-rate (sets --epochs)")
    args = parser.parse_args(argv)
    if args.more_epochs and args.resume:
        parser.error("--more-epochs starts a new cycle from the shipped reader; --resume continues a run "
                     "(give --resume the restarted run's --epochs and --learning-rate instead)")
    if args.more_epochs < 0:
        parser.error("--more-epochs must be positive")
    return args


_RUN_DEFINING = ("epochs", "fields", "validation_fields", "batch_size", "learning_rate", "seed")


def encode(text: str) -> list[int]:
    """A field's symbols as the reader's column indices."""
    return [SEQUENCE_SYMBOLS.index(ch) for ch in text]


def batches(lines: list[np.ndarray], texts: list[str], batch_size: int,
            rng: np.random.Generator | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The lines grouped by width into batches (x (N, 32, W, 1) padded with blank ink to
    the bucket above the widest, y (N, MAX_LABEL) padded with -1), in random order when
    ``rng`` is given."""
    order = np.argsort([line.shape[1] for line in lines], kind="stable")
    out = []
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        width = max(lines[i].shape[1] for i in chosen)
        width += -width % BUCKET
        x = np.zeros((len(chosen), lines[0].shape[0], width, 1), np.float32)
        y = np.full((len(chosen), MAX_LABEL), -1, np.int32)
        for row, index in enumerate(chosen):
            line = lines[index]
            x[row, :, : line.shape[1], 0] = line
            codes = encode(texts[index])[:MAX_LABEL]
            y[row, : len(codes)] = codes
        out.append((x, y))
    if rng is not None:
        out = [out[i] for i in rng.permutation(len(out))]
    return out


def source_digits(validation: bool) -> mnist.Split:
    """The MNIST training digits fields are written with: the digit model's validation
    hold-out with ``validation``, the rest without."""
    train, val = split_validation(mnist.load("train"), VALIDATION_DIGITS, DIGIT_MODEL_SPLIT_SEED)
    return val if validation else train


def epoch_lines(seed: int, epoch: int, count: int) -> tuple[list[np.ndarray], list[str]]:
    """One epoch's training lines and symbols: a pure function of its arguments (run in
    the data process, which loads its sources once)."""
    return sequence_fields.make_lines(_training_sources(), count, [seed, epoch, 1])


@lru_cache(maxsize=1)
def _training_sources() -> sequence_fields.SequenceSources:
    return sequence_fields.load_sources(source_digits(False), font_files.training_fonts())


def validation_lines(seed: int, count: int) -> tuple[list[np.ndarray], list[str]]:
    """The validation fields: written with the held-out MNIST digits (and the other
    sources), a fixed draw never trained on."""
    srcs = sequence_fields.load_sources(source_digits(True), font_files.training_fonts())
    return sequence_fields.make_lines(srcs, count, [seed, 0, 7])


def read_lines(model: object, lines: list[np.ndarray], batch_size: int = 64) -> list[str]:
    """Greedy readings of ``lines`` by a model that returns logits or probabilities."""
    from docproc.recognize.ctc import best_path

    readings: list[str] = [""] * len(lines)
    order = np.argsort([line.shape[1] for line in lines], kind="stable")
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        width = max(lines[i].shape[1] for i in chosen)
        x = np.zeros((len(chosen), lines[0].shape[0], width, 1), np.float32)
        for row, index in enumerate(chosen):
            x[row, :, : lines[index].shape[1], 0] = lines[index]
        out = np.asarray(model.predict_on_batch(x))  # type: ignore[attr-defined]
        for row, index in enumerate(chosen):
            readings[index] = best_path(out[row, : lines[index].shape[1] // 4])
    return readings


def field_accuracy(readings: list[str], texts: list[str]) -> float:
    """The share of fields read exactly, marks included."""
    return float(np.mean([a == b for a, b in zip(readings, texts)])) if texts else 0.0


def main(argv: list[str] | None = None) -> Path:
    """Train (or resume), keep the best epoch, and write the shipped reader and its log."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    import keras

    from docproc.recognize.model_files import companion_path
    from training.evaluate import library_versions
    from training.sequence_model import build_training_model, ctc_loss, shipped_model

    keras.utils.set_random_seed(args.seed)
    restart_log = _shipped_log(args.out, "nothing to restart: train one first (python -m training.train_sequence)"
                               ) if args.more_epochs else None
    if restart_log is not None:
        args.epochs = int(restart_log["epochs_done"]) + args.more_epochs
    x_val, t_val = validation_lines(args.seed, args.validation_fields)
    steps_per_epoch = -(-args.fields // args.batch_size)
    saved = checkpoint_dir(args)
    state_file = saved / "state.json"
    defining = {key: getattr(args, key) for key in _RUN_DEFINING}
    history: dict[str, list[float]] = {"loss": [], "val_field_accuracy": [], "seconds": []}
    best_accuracy, best_epoch, first_epoch, spent = -1.0, -1, 0, 0.0
    cycle_start = 0  # the epoch the current cosine cycle began after (a warm restart's)
    continued: list[dict[str, object]] = []  # where a run went on without its checkpoint
    if args.resume and state_file.is_file():
        state = json.loads(state_file.read_text())
        if state["defining"] != defining:
            raise SystemExit(f"{saved} holds a run with other arguments ({state['defining']}); start afresh without "
                             "--resume, or give --checkpoint another folder.")
        model = keras.saving.load_model(saved / "model.keras")
        history, best_accuracy, best_epoch = state["history"], state["best_accuracy"], state["best_epoch"]
        first_epoch, spent, continued = state["epochs_done"], state["seconds"], state.get("continued", [])
        cycle_start = state.get("cycle_start", 0)
        print(f"resuming after epoch {first_epoch} from {saved}", flush=True)
    else:
        # Without a checkpoint, a run goes on from the shipped reader and its log: a warm
        # restart on a new cycle, or --resume on the cycle the log was in.
        shipped_log = restart_log if restart_log is not None else _shipped_run(args.out, defining) if args.resume else None
        if shipped_log is not None:
            cycle_start = int(shipped_log["epochs_done"] if restart_log is not None else shipped_log.get("cycle_start", 0))
        model = build_training_model()
        schedule = keras.optimizers.schedules.CosineDecay(
            args.learning_rate, decay_steps=(args.epochs - cycle_start) * steps_per_epoch, alpha=0.02,
            warmup_target=None)
        model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0), loss=ctc_loss)
        if shipped_log is not None:
            model.set_weights(keras.saving.load_model(args.out, compile=False).get_weights())
            history, best_epoch = shipped_log["history"], shipped_log["best_epoch"] - 1
            first_epoch, spent = shipped_log["epochs_done"], shipped_log["wall_seconds"]
            # The shipped weights are the best epoch's: until one beats it, they stay the best. A
            # restart measures them again rather than taking the log's figure: the bar a new epoch
            # must clear is the shipped reader on these validation fields, however many it is given.
            best_accuracy = (field_accuracy(read_lines(model, x_val), t_val) if restart_log is not None
                             else shipped_log["best_val_field_accuracy"])
            # The schedule goes on where the cycle stands (a restart's at its start); Adam's moments start again.
            model.optimizer.build(model.trainable_variables)
            model.optimizer.iterations.assign((first_epoch - cycle_start) * steps_per_epoch)
            how = (f"warm restart: Adam afresh, a new cosine cycle of {args.more_epochs} epochs from "
                   f"{args.learning_rate:g}" if restart_log is not None
                   else "Adam restarted (the checkpoint was gone); the learning-rate schedule went on")
            continued = [*shipped_log.get("continued", []), {
                "after_epoch": first_epoch, "from": f"{args.out.name} (the best epoch, {best_epoch + 1})",
                "optimizer": how,
                # The recipe may have changed since the epochs before: what this cycle's fields are made of.
                "fields": {"sources": dict(sequence_fields.SOURCE_SHARES), "joined": sequence_fields.JOINED_SHARE,
                           "elastic": sequence_fields.ELASTIC_SHARE}}]
            _save_checkpoint(saved, model, True, {
                "defining": defining, "history": history, "best_accuracy": best_accuracy, "best_epoch": best_epoch,
                "epochs_done": first_epoch, "seconds": spent, "continued": continued, "cycle_start": cycle_start})
            print(f"going on after epoch {first_epoch} from {args.out} "
                  f"(its best epoch's weights, validation fields {best_accuracy:.4f}; {how})", flush=True)
    print(f"{args.fields} fields an epoch, {len(t_val)} validating; backend {keras.backend.backend()}; "
          f"{model.count_params()} parameters", flush=True)

    call_start = time.time()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        pending = deque([pool.submit(epoch_lines, args.seed, first_epoch, args.fields)] if first_epoch < args.epochs else [])
        for epoch in range(first_epoch, args.epochs):
            epoch_start = time.time()
            lines, texts = pending.popleft().result()
            if epoch + 1 < args.epochs:
                pending.append(pool.submit(epoch_lines, args.seed, epoch + 1, args.fields))
            losses = [float(model.train_on_batch(x, y)) for x, y in
                      batches(lines, texts, args.batch_size, np.random.default_rng([args.seed, epoch, 3]))]
            accuracy = field_accuracy(read_lines(model, x_val), t_val)
            history["loss"].append(float(np.mean(losses)))
            history["val_field_accuracy"].append(accuracy)
            history["seconds"].append(time.time() - epoch_start)
            improved = accuracy > best_accuracy
            if improved:
                best_accuracy, best_epoch = accuracy, epoch
            print(f"epoch {epoch + 1:2d}/{args.epochs}  loss {history['loss'][-1]:.3f}  "
                  f"val fields {accuracy:.4f}  {history['seconds'][-1]:.0f}s{'  *' if improved else ''}", flush=True)
            _save_checkpoint(saved, model, improved, {
                "defining": defining, "history": history, "best_accuracy": best_accuracy, "best_epoch": best_epoch,
                "epochs_done": epoch + 1, "seconds": spent + time.time() - epoch_start, "continued": continued,
                "cycle_start": cycle_start,
            })
            spent += time.time() - epoch_start
            if args.minutes and time.time() - call_start > args.minutes * 60 and epoch + 1 < args.epochs:
                print(f"stopping after {args.minutes} minutes as asked; `--resume` continues from {saved}", flush=True)
                break
    best = keras.saving.load_model(saved / "best.keras")
    shipped = shipped_model(best)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shipped.save(args.out)
    export_twin(args.out)  # reading runs the twin (training/twins.py)
    log = {
        "command": shlex.join(["python", "-m", "training.train_sequence", *argv]),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "data": {"made_by": "training/sequence_fields.py", "fields_per_epoch": args.fields,
                 "sources": sequence_fields.SOURCE_SHARES,
                 "mnist": f"training split less the {VALIDATION_DIGITS} validation digits of the digit model "
                          f"(split seed {DIGIT_MODEL_SPLIT_SEED})",
                 "fonts": [font.package for font in font_files.training_fonts()],
                 "uci": "semeion.data, optdigits-orig.tra and .cv (never windep)"},
        "epochs_done": len(history["loss"]),
        "best_epoch": best_epoch + 1,
        "best_val_field_accuracy": best_accuracy,
        "continued": continued,
        "cycle_start": cycle_start,
        "wall_seconds": round(spent, 1),
        "wall_hours": round(spent / 3600, 2),
        "machine": machine_description(),
        "libraries": library_versions(),
        "history": history,
    }
    companion_path(args.out, "training.json").write_text(json.dumps(log, indent=2) + "\n")
    print(f"saved {args.out} (best epoch {best_epoch + 1}, validation {best_accuracy:.4f}); "
          f"{spent / 3600:.2f} h of training so far", flush=True)
    return args.out


def _shipped_log(out: Path, what_to_do: str) -> dict[str, object]:
    """The training log of the reader shipped at ``out``, which a run without its
    checkpoint goes on from; refused with ``what_to_do`` when either is missing."""
    from docproc.recognize.model_files import companion_path

    log_file = companion_path(out, "training.json")
    if not out.is_file() or not log_file.is_file():
        raise SystemExit(f"no {out} with its {log_file.name}: {what_to_do}")
    return json.loads(log_file.read_text())


def _shipped_run(out: Path, defining: dict[str, object]) -> dict[str, object]:
    """The training log of the reader shipped at ``out``, when ``--resume`` has no
    checkpoint to go on from (it lives in the user cache, which a new machine lacks).
    Refused unless that run had the same defining arguments."""
    log = _shipped_log(out, "nothing to resume without a checkpoint; start afresh without --resume")
    theirs = {key: log["arguments"].get(key) for key in _RUN_DEFINING}
    if theirs != defining:
        raise SystemExit(f"{out} was trained with other arguments ({theirs}); give the same ones to --resume it, "
                         "or start afresh without --resume")
    return log


def _save_checkpoint(folder: Path, model: object, improved: bool, state: dict[str, object]) -> None:
    """The model with its optimizer, the best model so far and the run's state, each
    written beside its target and renamed, so a kill mid-save keeps the last checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.partial.keras")  # type: ignore[attr-defined]
    if improved:
        model.save(folder / "best.partial.keras")  # type: ignore[attr-defined]
        (folder / "best.partial.keras").replace(folder / "best.keras")
    (folder / "state.partial.json").write_text(json.dumps(state) + "\n")
    for name in ("model.keras", "state.json"):
        stem, ext = name.split(".", 1)
        (folder / f"{stem}.partial.{ext}").replace(folder / name)


if __name__ == "__main__":
    main()
