"""Train the single-digit check: a small CNN that says whether a crop holds exactly one
whole digit, and write it with its card (``docproc/models/single-digit.keras``, ``.json``).

    python -m training.single_digit                   # the shipped check
    python -m training.single_digit --count 2000 --epochs 1 --out /tmp/check.keras   # a smoke run

Why a second model: the digit model is sure of itself on crops it was never meant to
see. Two touching digits squeezed into one 28x28 box often look like one digit to it
(a 4 and a 6 become a confident 6), and the piece of a digit cut in the wrong place looks
like a confident 1. The decoder weighs each way of cutting a field by both models.

The check learns from digits made into what segmentation makes of them: two digits side
by side, touching or overlapping (a missed split); half a digit (a bad split); a digit
with a sliver of its neighbour (a cut in the wrong place); and, as positives, single
digits; and marks and stray strokes (a comma, a dash: no digit at all); any of them may
carry a speck of noise. The digits are those the digit model learns from
(training/sources.py): MNIST training digits (the digit model's validation digits held
out), the UCI training digits, the training fonts' digits and pen-drawn digits (each font
glyph and pen digit augmented before it is used, so none is seen clean), and crops that docproc's own pipeline cut from
generated scans of MNIST training digits (training/field_crops.py), so scanned-looking
strokes are found on both sides of the line and the check does not learn "scanned" for
"wrong". The marks are the training fonts' and drawn ones. Everything goes through the
training augmentation and the MNIST recipe. The card is measured on composites of MNIST
test digits with marks never trained on, and on single-digit crops the pipeline cut from
scans of test digits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from docproc.audit import metrics
from docproc.datasets import mnist
from docproc.glyphs.normalize import normalize_glyph
from docproc.recognize.model_files import SHIPPED_CHECK
from training import augment, field_crops
from training.evaluate import card_header, library_versions
from training.train import machine_description, split_validation
from training.twins import export_twin

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = SHIPPED_CHECK
KINDS = ("single digit", "two touching digits", "part of a digit", "digit with a sliver of another",
         "a mark or a stroke")
# Share of each kind in the data: half single digits, half what segmentation gets wrong
# or is no digit at all.
KIND_SHARES = (0.5, 0.2, 0.12, 0.12, 0.06)
SPECK_SHARE = 0.2  # crops of every kind that get a speck of noise
CARD_PAGES = (100, 10, 100)  # cheques, forms, zips of test digits the card's scanned crops come from


def _ink_box(image: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(image.max(axis=1) > 0)
    cols = np.flatnonzero(image.max(axis=0) > 0)
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _side_by_side(left: np.ndarray, right: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two ink images written next to each other, from a small gap to a third overlapping,
    the second a little larger or smaller and higher or lower."""
    left, right = _ink_box(left), _ink_box(right)
    scale = rng.uniform(0.85, 1.15)
    right = cv2.resize(right, (max(1, round(right.shape[1] * scale)), max(1, round(right.shape[0] * scale))),
                       interpolation=cv2.INTER_LINEAR)
    overlap = int(rng.uniform(-0.05, 0.35) * min(left.shape[1], right.shape[1]))
    dy = int(rng.uniform(-0.15, 0.15) * left.shape[0])
    top_left = max(0, -dy)
    top_right = max(0, dy)
    height = max(top_left + left.shape[0], top_right + right.shape[0])
    width = left.shape[1] + right.shape[1] - overlap
    canvas = np.zeros((height, width), np.float32)
    canvas[top_left : top_left + left.shape[0], : left.shape[1]] = left
    x = left.shape[1] - overlap
    region = canvas[top_right : top_right + right.shape[0], x : x + right.shape[1]]
    np.maximum(region, right[: region.shape[0], : region.shape[1]], out=region)
    return canvas


def _part(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The left or right part of a digit cut upright between 30% and 70% of its width."""
    ink = _ink_box(image)
    cut = max(1, int(rng.uniform(0.3, 0.7) * ink.shape[1]))
    return ink[:, :cut] if rng.random() < 0.5 else ink[:, cut:]


def _with_sliver(image: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit with the edge (12-40% of the width) of another beside it."""
    ink = _ink_box(other)
    width = max(2, int(rng.uniform(0.12, 0.4) * ink.shape[1]))
    sliver = ink[:, :width] if rng.random() < 0.5 else ink[:, -width:]
    return _side_by_side(image, sliver, rng) if rng.random() < 0.5 else _side_by_side(sliver, image, rng)


def _with_speck(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The image with a dot of noise near its ink, as a speck of a security pattern or a
    scanner's dirt merges into a glyph: it must not make a digit 'not one digit'."""
    ink = _ink_box(image)
    pad = max(2, ink.shape[0] // 6)
    canvas = np.pad(ink, pad)
    radius = max(1, round(ink.shape[0] * rng.uniform(0.02, 0.06)))
    centre = (int(rng.integers(0, canvas.shape[1])), int(rng.integers(0, canvas.shape[0])))
    cv2.circle(canvas, centre, radius, float(rng.uniform(0.5, 1.0)), -1)
    return canvas


def composite_set(images: np.ndarray, count: int, seed: int | list[int],
                  marks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` augmented, normalized crops (N, 28, 28) float32 made from digit crops
    ``images`` and mark crops ``marks`` (uint8, recipe crops), whether each is a single
    digit (N,) uint8, and its kind (an index into KINDS)."""
    rng = np.random.default_rng(seed)
    mark_crops = marks.astype(np.float32) / 255.0
    source = images.astype(np.float32) / 255.0
    ink = source > 0
    widths = ink.any(axis=1).sum(axis=1)
    heights = ink.any(axis=2).sum(axis=1)
    # Cutting a narrow 1 in two leaves a 1; only digits wide enough to be cut make parts.
    wide = np.flatnonzero(widths >= 0.6 * heights)
    kinds = rng.choice(len(KINDS), size=count, p=KIND_SHARES)
    x = np.empty((count, 28, 28), np.float32)
    for index, kind in enumerate(kinds):
        first, second = source[rng.integers(len(source))], source[rng.integers(len(source))]
        if kind == 0:
            crop = first if rng.random() >= SPECK_SHARE else normalize_glyph(_with_speck(first, rng))
        elif kind == 1:
            crop = normalize_glyph(_side_by_side(first, second, rng))
        elif kind == 2:
            crop = normalize_glyph(_part(source[wide[rng.integers(len(wide))]], rng))
        elif kind == 3:
            crop = normalize_glyph(_with_sliver(first, second, rng))
        else:
            crop = mark_crops[rng.integers(len(mark_crops))]
        if kind != 0 and rng.random() < SPECK_SHARE:
            crop = normalize_glyph(_with_speck(crop, rng))
        x[index] = augment.augment_digit(crop, rng)
    return x, (kinds == 0).astype(np.uint8), kinds.astype(np.uint8)


# Pen-drawn digits (training/pen_digits.py) among the digits composites are made of: as
# many as the digit model sees in an epoch, so the check knows their shapes as whole digits.
PEN_DIGITS = 15000


def sources_of_crops(train: mnist.Split, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """The digit crops (MNIST ``train``, the UCI training digits, the training fonts'
    digits and pen-drawn digits augmented once), the mark crops (the training fonts' marks augmented once, and
    drawn ones), both uint8 recipe crops, and what they are for the card."""
    from docproc.datasets import fonts as font_files
    from docproc.recognize.classes import DIGIT_COLUMNS
    from training import sources
    from training.train import training_data_description

    rng = np.random.default_rng([seed, 3])
    uci = sources.uci_crops()
    rendered = sources.font_crops(font_files.training_fonts())
    font_digits = rendered.take(np.flatnonzero(rendered.labels < DIGIT_COLUMNS))
    font_marks = rendered.take(np.flatnonzero(rendered.labels >= DIGIT_COLUMNS))
    drawn = sources.drawn_crops(len(font_marks), rng)
    pen = sources.pen_digit_crops(PEN_DIGITS, rng)

    def augmented(crops: sources.Crops, stream: int) -> np.ndarray:
        images = augment.augment_batch(crops.images, [seed, 4, stream], sources.FONT_AUGMENT)
        return sources.as_uint8(images)

    digits = np.concatenate([train.images, uci.images, augmented(font_digits, 0), augmented(pen, 2)])
    marks = np.concatenate([augmented(font_marks, 1), drawn.images])
    description = training_data_description(sources.Mix(sources.Crops(train.images, train.labels), uci, rendered,
                                                        len(uci), len(font_digits), len(marks), len(pen)))
    description["per_epoch"] = {"mnist": len(train.labels), "uci": len(uci), "font digits": len(font_digits),
                                "marks": len(marks), "pen digits": len(pen)}
    return digits, marks, description


def build_model(dropout: float = 0.2):  # -> keras.Model
    """Three small conv stages and a dense layer; a sigmoid says 'one whole digit'."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1), name="crops")
    x = inputs
    for index, filters in enumerate((16, 32, 64)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{index}")(x)
        x = layers.MaxPooling2D(name=f"pool{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="single_digit")(x)
    return keras.Model(inputs, outputs, name="single_digit_check")


def card(model_path: Path, test_count: int, seed: int, command: str, training: dict[str, object]) -> dict[str, object]:
    """The check's card, measured on composites of MNIST test digits and on the pipeline's
    crops of scanned test digits."""
    from docproc.recognize.loading import load_single_digit_check

    check = load_single_digit_check(model_path)
    test = mnist.load("test")
    scanned = field_crops.harvest(test, *CARD_PAGES, seed=seed + 1)
    scanned_accepted = check.predict(scanned.images.astype(np.float32) / 255.0) >= 0.5
    from training.evaluate import marks_test

    x, single, kinds = composite_set(test.images, test_count, [seed, 2], marks_test().images)
    score = check.predict(x)
    accepted = score >= 0.5
    right = accepted == single.astype(bool)
    per_kind = {}
    for index, name in enumerate(KINDS):
        chosen = kinds == index
        per_kind[name] = {"crops": int(chosen.sum()), "judged_right": float(right[chosen].mean())}
    return {
        **card_header(model_path, "(N, 1) probability that the crop holds exactly one whole digit",
                      int(check.model.count_params())),
        "test": {
            "data": f"{test_count} composites of MNIST t10k digits (writers disjoint from training) and marks "
                    "never trained on (training/evaluate.py's marks test)",
            "composites": test_count,
            "seed": seed,
            "accuracy_at_0.5": float(right.mean()),
            "roc_auc": metrics.roc_auc(score, single.astype(bool)),
            "per_kind": per_kind,
            "scanned_single_digits": {
                "data": f"crops docproc cut from {CARD_PAGES[0]} cheques, {CARD_PAGES[1]} two-page forms and "
                        f"{CARD_PAGES[2]} zip fields generated from test digits (fields whose glyphs pair up with the truth)",
                "crops": int(len(scanned.labels)),
                "accepted": float(scanned_accepted.mean()) if len(scanned.labels) else float("nan"),
            },
        },
        "data": training.get("data", {"source": f"npm {mnist.NPM_PACKAGE}", "sha256": mnist.SHA256}),
        "training": {k: v for k, v in training.items() if k != "data"},
        "libraries": library_versions(),
        "evaluation": {"command": command, "date": dt.date.today().isoformat()},
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200_000, help="training crops (made once, from the training digits)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--val-size", type=int, default=5000,
                        help="training digits held out (the digit model's validation digits)")
    parser.add_argument("--test-count", type=int, default=20_000, help="composites of test digits for the card")
    parser.add_argument("--scanned", type=int, nargs=3, default=(600, 60, 600), metavar=("CHEQUES", "FORMS", "ZIPS"),
                        help="generated scans of training digits whose pipeline crops join MNIST as sources")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--card-only", action="store_true",
                        help="do not train: measure the existing --out file again and rewrite its card")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    """Make the data, train, save the check and write its card beside it."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    import keras

    if args.card_only:
        card_file = args.out.with_suffix(".json")
        training = json.loads(card_file.read_text())["training"] if card_file.is_file() else {}
        command = shlex.join(["python", "-m", "training.single_digit", *argv])
        card_file.write_text(json.dumps(card(args.out, args.test_count, args.seed, command, training), indent=2) + "\n")
        print(f"card rewritten: {card_file}")
        return args.out
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    full = mnist.load("train")
    train, val = split_validation(full, min(args.val_size, len(full.labels) // 5), args.seed)
    scanned = field_crops.harvest(train, *args.scanned, seed=args.seed)
    print(f"cut {len(scanned.labels)} single-digit crops from generated scans in {time.time() - started:.0f}s", flush=True)
    digits, marks, data = sources_of_crops(train, args.seed)
    x, y, _ = composite_set(np.concatenate([digits, scanned.images]), args.count, [args.seed, 0], marks)
    x_val, y_val, _ = composite_set(val.images, max(1000, args.count // 20), [args.seed, 1], marks)
    print(f"made {len(y)} training and {len(y_val)} validation crops in {time.time() - started:.0f}s", flush=True)

    model = build_model()
    steps = -(-len(y) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.epochs * steps, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
    fit = model.fit(x[..., None], y, batch_size=args.batch_size, epochs=args.epochs,
                    validation_data=(x_val[..., None], y_val), verbose=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    export_twin(args.out)  # reading runs the twin (training/twins.py)
    training = {
        "command": shlex.join(["python", "-m", "training.single_digit", *argv]),
        "train_crops": int(len(y)),
        "scanned_source_crops": int(len(scanned.labels)),
        "validation_crops": int(len(y_val)),
        "epochs": args.epochs,
        "final_val_accuracy": float(fit.history["val_accuracy"][-1]),
        "final_val_loss": float(fit.history["val_loss"][-1]),
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine_description(),
        "data": data,
    }
    result = card(args.out, args.test_count, args.seed, training["command"], training)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    test = result["test"]
    assert isinstance(test, dict)
    print(f"saved {args.out}: test accuracy {test['accuracy_at_0.5']:.2%}, ROC AUC {test['roc_auc']:.4f} "
          f"({time.time() - started:.0f}s)", flush=True)
    return args.out


if __name__ == "__main__":
    main()
