"""The two readers weighed together: which candidate wins, and the calibration file's contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docproc.errors import ModelError
from docproc.recognize.agreement import FEATURES, Calibration, Candidate, Evidence, load_calibration
from docproc.recognize.model_files import SHIPPED_SEQUENCE, calibration_path


def test_the_candidate_both_readers_find_likelier_wins_and_a_tie_keeps_the_segmentation() -> None:
    segmentation, sequence = Candidate("4060", "4060", 0.99, 0.001), Candidate("40610", "40610", 0.2, 0.9)
    assert Evidence("4060", "40610", False, (segmentation, sequence)).chosen == sequence
    even = Candidate("123", "123", 0.5, 0.5)
    assert Evidence("123", "124", False, (even, Candidate("124", "124", 0.25, 1.0))).chosen == even


def test_the_confidence_grows_with_either_readers_probability_and_with_agreement() -> None:
    calibration = load_calibration(calibration_path(SHIPPED_SEQUENCE))
    sure, unsure = Candidate("12", "12", 0.99, 0.99), Candidate("12", "12", 0.5, 0.99)
    assert calibration.both(Evidence("12", "12", True, (sure,))) > calibration.both(Evidence("12", "12", True, (unsure,)))
    apart = Evidence("12", "13", False, (sure, Candidate("13", "13", 0.01, 0.01)))
    assert calibration.both(Evidence("12", "12", True, (sure,))) > calibration.both(apart)


def test_a_calibration_fitted_for_other_inputs_is_refused_with_what_to_do(tmp_path: Path) -> None:
    fitted = Calibration((1.0,) * (len(FEATURES) + 2), 0.0, 1.0, 0.0).to_json()
    path = tmp_path / "old.agreement.json"
    path.write_text(json.dumps(fitted))
    with pytest.raises(ModelError, match="fit_agreement"):
        load_calibration(path)
