"""A batch of fields' crops read: which crops are worth classifying, and each glyph's
reading options for the decoder, taken from the rows of the crops as the fields' crop
layouts place them."""

from __future__ import annotations

import numpy as np

from docproc.glyphs.crop_layout import CropLayout
from docproc.recognize.classifier import CropReadings, DigitClassifier
from docproc.recognize.decode import Reading

# A glyph whose whole crop the models read as one sure digit (top probability at least
# SURE_DIGIT, single-digit check at least SURE_SINGLE) is not read cut in pieces: its cut
# alternatives could only win against that reading as a wrong split or, in a field of
# fixed length, to make up a digit another glyph lost. On the two dev sets (6,000
# generated fields) leaving them unread changed no field from right to wrong or back,
# and left 56% of the crops unread.
SURE_DIGIT = 0.99
SURE_SINGLE = 0.95


def piece_owners(layouts: list[CropLayout]) -> np.ndarray:
    """For the crops of fields laid out one after another in a batch: each crop's
    ``CropLayout.piece_owners`` in batch indices."""
    owners, offset = [], 0
    for layout in layouts:
        owners.append(layout.piece_owners(offset))
        offset += layout.count
    return np.concatenate(owners) if owners else np.empty(0, np.int64)


def read_needed(classifier: DigitClassifier, crops: np.ndarray, owners: np.ndarray) -> CropReadings:
    """The crops' readings, reading the pieces of a cut (``owners`` >= 0, see
    ``piece_owners``) only where the glyph's whole reading is not sure (see SURE_DIGIT);
    unread rows are NaN."""
    count = len(crops)
    probabilities = np.full((count, classifier.width), np.nan, np.float32)
    singles = np.full(count, np.nan, np.float32)
    first, owned = np.flatnonzero(owners < 0), np.flatnonzero(owners >= 0)
    read = classifier.read(crops[first])
    probabilities[first] = read.probabilities
    if read.singles is None:
        # Without the check there is no telling a sure digit: every cut is read.
        probabilities[owned] = classifier.read(crops[owned]).probabilities
        return CropReadings(probabilities, None)
    singles[first] = read.singles
    whole = owners[owned]
    unsure = (probabilities[whole].max(axis=1) < SURE_DIGIT) | (singles[whole] < SURE_SINGLE)
    rest = owned[unsure]
    if rest.size:
        more = classifier.read(crops[rest])
        probabilities[rest] = more.probabilities
        singles[rest] = more.singles
    return CropReadings(probabilities, singles)


def field_readings(layout: CropLayout, probabilities: np.ndarray, singles: np.ndarray | None) -> list[Reading]:
    """Each glyph's reading options from one field's rows of ``probabilities`` and
    ``singles`` (as its ``layout`` places them). A cut whose pieces were left unread
    (NaN rows, see ``read_needed``) is no option."""
    readings = []
    boxes = layout.boxes or (None,) * layout.count
    for glyph in layout.glyphs():
        spans = [(glyph.whole, glyph.whole + 1)]
        spans += [(start, stop) for start, stop in glyph.cuts if not np.isnan(probabilities[start, 0])]
        options = tuple(tuple(probabilities[a:b]) for a, b in spans)
        checks = None if singles is None else tuple(tuple(float(v) for v in singles[a:b]) for a, b in spans)
        join, joined_box = None, None
        if glyph.joined is not None:
            join = (probabilities[glyph.joined], None if singles is None else float(singles[glyph.joined]))
            joined_box = boxes[glyph.joined]
        readings.append(Reading(options, checks, join, tuple(tuple(boxes[a:b]) for a, b in spans), joined_box))
    return readings
