"""The sequence reader: a small CNN turns a field's line image into a row of feature
columns, a bidirectional LSTM reads along it, and CTC aligns its output to the field's
symbols without any segmentation (the CRNN layout of docTR and PaddleOCR, at the size a
2-core CPU trains in hours).

Only backend-agnostic Keras 3 layers, and CTC from ``keras.ops``, so one file trains and
runs on TensorFlow and JAX alike. The shipped file maps (N, 32, W, 1) in [0, 1], ink high
(docproc.glyphs.line_image), to (N, W / 4, SEQUENCE_WIDTH) probabilities per column; the
blank is the last column.
"""

from __future__ import annotations

import keras
from keras import layers

from docproc.glyphs.line_image import HEIGHT, WIDTH_STEP
from docproc.recognize.classes import SEQUENCE_BLANK, SEQUENCE_WIDTH

# (filters, pool) of each conv stage: conv -> BN -> ReLU -> max-pool. Width is pooled by
# WIDTH_STEP in all, height from 32 to 2; a last (2, 1) conv folds the 2 rows into features.
CONV_STAGES: tuple[tuple[int, tuple[int, int]], ...] = ((32, (2, 2)), (64, (2, 2)), (96, (2, 1)), (128, (2, 1)))
FEATURES = 160
LSTM_UNITS = 128
LOGITS_LAYER = "logits"
OUTPUT_LAYER = "probabilities"
assert WIDTH_STEP == 4 and HEIGHT == 32  # the pools above are sized for these


def build_training_model(dropout: float = 0.2) -> keras.Model:
    """The reader as trained: raw logits per column, (N, W / 4, SEQUENCE_WIDTH)."""
    inputs = keras.Input((HEIGHT, None, 1), name="line")
    x = inputs
    for index, (filters, pool) in enumerate(CONV_STAGES):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = layers.BatchNormalization(name=f"bn{index}")(x)
        x = layers.Activation("relu", name=f"relu{index}")(x)
        x = layers.MaxPooling2D(pool, name=f"pool{index}")(x)
    x = layers.Conv2D(FEATURES, (2, 1), activation="relu", name="fold")(x)  # (N, 1, W/4, F)
    x = layers.Reshape((-1, FEATURES), name="columns")(x)
    x = layers.Dropout(dropout, name="dropout0")(x)
    x = layers.Bidirectional(layers.LSTM(LSTM_UNITS, return_sequences=True), name="bilstm")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    logits = layers.Dense(SEQUENCE_WIDTH, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, logits, name="sequence_reader_train")


def shipped_model(trained: keras.Model) -> keras.Model:
    """The trained reader with a softmax on its logits: the file docproc loads."""
    probabilities = layers.Activation("softmax", name=OUTPUT_LAYER)(trained.output)
    return keras.Model(trained.input, probabilities, name="sequence_reader")


@keras.saving.register_keras_serializable(package="docproc")
def ctc_loss(y_true: object, y_pred: object) -> object:
    """CTC loss of logits ``y_pred`` (N, T, C) for labels ``y_true`` (N, L), padded with -1.
    Every output column counts: lines in a batch are padded with blank ink, which the
    reader learns to read as nothing, as it will at run time."""
    from keras import ops

    labels = ops.cast(y_true, "int32")
    label_length = ops.sum(ops.cast(labels >= 0, "int32"), axis=1)
    batch, steps = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
    output_length = ops.full((batch,), steps, dtype="int32")
    return ops.ctc_loss(ops.maximum(labels, 0), y_pred, label_length, output_length, mask_index=SEQUENCE_BLANK)
