"""What the digit model's output columns are: the ten digits, then the marks people write
in amounts and dates, then a stray stroke. docs/model.md states this contract.

A model with ten columns (every model before the marks) reads digits only; one with
``len(CLASSES)`` columns also says where a glyph is a mark and not a digit, so that a
comma is not read as a 1 nor a dash as a 7.
"""

from __future__ import annotations

DIGITS = "0123456789"
# The marks of amounts and dates, in column order after the digits.
MARKS = ".,-/=$*#"
# A pen stroke that is neither digit nor mark (a tick, a loop, a piece of underline): it
# is left out of both the text and the marks.
STROKE = "stroke"
CLASSES: tuple[str, ...] = (*DIGITS, *MARKS, STROKE)

DIGIT_COLUMNS = len(DIGITS)
# The output widths a digit model may have.
OUTPUT_WIDTHS = (DIGIT_COLUMNS, len(CLASSES))


def class_of(symbol: str) -> int:
    """The output column of a digit, a mark, or ``STROKE``."""
    return CLASSES.index(symbol)

# The sequence reader's output columns (docs/model.md): the digits and the marks, then the
# CTC blank. A stray stroke has no column: the reader learns to pass over it.
SEQUENCE_SYMBOLS = DIGITS + MARKS
SEQUENCE_BLANK = len(SEQUENCE_SYMBOLS)
SEQUENCE_WIDTH = SEQUENCE_BLANK + 1
