"""The UCI real-digit files read as their makers describe them (skipped where ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docproc.datasets import uci_digits
from docproc.errors import DatasetError

REAL_DIGITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-digits"
needs_data = pytest.mark.skipif(not REAL_DIGITS.is_dir(), reason=f"no {REAL_DIGITS}")


@needs_data
def test_optdigits_and_semeion_hold_the_digits_their_makers_count() -> None:
    windep = uci_digits.read_optdigits(REAL_DIGITS / "optdigits-orig.windep")
    # The file's header says ntot = 1797, and the set is balanced over the ten digits.
    assert windep.images.shape == (1797, 32, 32) and set(np.unique(windep.images)) == {0, 1}
    assert np.bincount(windep.labels).min() >= 170
    semeion = uci_digits.read_semeion(REAL_DIGITS / "semeion.data")
    assert semeion.images.shape == (1593, 16, 16) and sorted(set(semeion.labels)) == list(range(10))
    grey = uci_digits.as_grey(windep.images[0])
    assert grey.dtype == np.uint8 and set(np.unique(grey)) == {0, 255}


def test_a_file_that_is_not_the_original_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "optdigits-orig.windep"
    fake.write_text("0" * 32 + "\n")
    with pytest.raises(DatasetError, match="failed its checksum"):
        uci_digits.read_optdigits(fake)
    with pytest.raises(DatasetError, match="not one of the UCI digit files"):
        uci_digits.read_optdigits(tmp_path / "digits.txt")
