"""The sequence reader, loaded, and how docproc runs it over fields' line images.

The contract (docs/model.md): input (N, 32, W, 1) float32 in [0, 1], ink high, the line
image of docproc.glyphs.line_image; output (N, W / 4, SEQUENCE_WIDTH) probabilities of
each symbol of docproc.recognize.classes.SEQUENCE_SYMBOLS and of the CTC blank (last),
per column of four input columns.

A line is padded with blank ink to the width bucket above its own width, and every call
has SEQUENCE_ROWS rows (blank lines filling the last): the reader reads along the whole
padded width in both directions, so a field's reading is a function of the field alone
only when neither its padding nor its call's shape depends on the other fields of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from docproc.glyphs.line_image import HEIGHT, MAX_WIDTH, WIDTH_STEP
from docproc.recognize.agreement import Calibration

# The widths lines are padded to: few shapes (each is traced once per process) with at
# most a third of a line's width added.
WIDTH_BUCKETS = (64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, MAX_WIDTH)
SEQUENCE_ROWS = 16


def bucket_of(width: int) -> int:
    """The padded width of a line ``width`` columns wide."""
    for bucket in WIDTH_BUCKETS:
        if width <= bucket:
            return bucket
    raise ValueError(f"a line is at most {MAX_WIDTH} columns wide, got {width}")


@dataclass
class SequenceReader:
    """A loaded sequence reader and the calibration of its confidences (None until one is
    fitted: training/fit_agreement.py). ``read`` takes line images and returns each
    one's column probabilities."""

    model: Any
    path: Path
    calibration: Calibration | None = None

    def read(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Each line's (W / 4, SEQUENCE_WIDTH) float32 column probabilities, for lines
        (32, W) as docproc.glyphs.line_image makes them, in the order given."""
        out: list[np.ndarray] = [np.empty(0)] * len(lines)  # every slot is filled below
        by_bucket: dict[int, list[int]] = {}
        for index, line in enumerate(lines):
            if line.ndim != 2 or line.shape[0] != HEIGHT or line.shape[1] % WIDTH_STEP:
                raise ValueError(f"a line image is ({HEIGHT}, W) with W a multiple of {WIDTH_STEP}, got {line.shape}")
            by_bucket.setdefault(bucket_of(line.shape[1]), []).append(index)
        for bucket, members in sorted(by_bucket.items()):
            for start in range(0, len(members), SEQUENCE_ROWS):
                chosen = members[start : start + SEQUENCE_ROWS]
                batch = np.zeros((SEQUENCE_ROWS, HEIGHT, bucket, 1), np.float32)
                for row, index in enumerate(chosen):
                    batch[row, :, : lines[index].shape[1], 0] = lines[index]
                columns = np.asarray(self.model.predict_on_batch(batch), np.float32)
                for row, index in enumerate(chosen):
                    out[index] = columns[row, : lines[index].shape[1] // WIDTH_STEP]
        return out
