"""A bug met while reading one file (an exception in any stage) costs that file an error
row that asks for a report, never the run: in this process and in worker processes."""

from __future__ import annotations

import logging
import os

import pytest

from docproc.config import RunOptions
from docproc.ingest.inputs import InputFile
from docproc.layout.templates import load_template
from docproc.run import parts, pipeline, prepare, workers
from docproc.run.pipeline import run_all
from samples.pages import write_set

pytestmark = pytest.mark.slow
REAL_PREPARE = parts.prepare_part
# The CPU stages, by the name prepare.py calls them under.
STAGES = ("iter_pages", "page_fields", "segment_field", "lay_out")


def raising_while_bad(stage: str, real, current: dict[str, str]):  # type: ignore[no-untyped-def]
    """``real``, except that it raises while ``current["file"]`` is bad.png."""

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        if current["file"] == "bad.png":
            raise ValueError(f"planted in {stage}")
        return real(*args, **kwargs)

    return failing


_worker_file = {"file": ""}


def prepare_with_a_planted_failure(item: InputFile, options: RunOptions, first: int = 1,
                                   last: int | None = None) -> object:
    """Runs in a worker process: the stage named by $DOCPROC_TEST_STAGE fails for bad.png."""
    stage = os.environ["DOCPROC_TEST_STAGE"]
    if getattr(prepare, "_planted", None) != stage:
        setattr(prepare, stage, raising_while_bad(stage, getattr(prepare, stage), _worker_file))
        prepare._planted = stage  # type: ignore[attr-defined]
    _worker_file["file"] = item.name
    return REAL_PREPARE(item, options, first, last)


@pytest.fixture(scope="module")
def cheques(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunOptions, list[InputFile]]:
    out = tmp_path_factory.mktemp("set")
    write_set(out, cheques=3, forms=0, zips=0, seed=4242, formats=("png",))
    found = sorted((out / "scans" / "cheques").glob("*.png"))
    files = [InputFile(found[0], "good-1.png"), InputFile(found[1], "bad.png"), InputFile(found[2], "good-2.png")]
    return RunOptions(template=load_template(out / "templates" / "cheque.yaml")), files


def _check(rows: list, clean: list, stage: str) -> None:  # type: ignore[type-arg]
    errors = [r for r in rows if r.status == "error"]
    assert [(r.file, r.page) for r in errors] == [("bad.png", 1)], stage
    assert errors[0].error.startswith(f"internal error (ValueError: planted in {stage}); the rest of the run went on")
    assert [r for r in rows if r.file != "bad.png"] == [r for r in clean if r.file != "bad.png"], stage


def plant_here(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``prepare.<stage>`` raise while bad.png is read, in this process (the in-process
    driver, which Dask workers run too, reads files through ``pipeline.prepare_file``)."""
    real_prepare_file = pipeline.prepare_file
    current = {"file": ""}

    def tracking(item: InputFile, opts: RunOptions):  # type: ignore[no-untyped-def]
        current["file"] = item.name
        return real_prepare_file(item, opts)

    monkeypatch.setattr(prepare, stage, raising_while_bad(stage, getattr(prepare, stage), current))
    monkeypatch.setattr(pipeline, "prepare_file", tracking)


@pytest.mark.parametrize("stage", STAGES)
def test_a_failure_in_a_stage_costs_only_its_file_in_this_process(
        stage: str, cheques, shipped_classifier, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        caplog: pytest.LogCaptureFixture) -> None:
    options, files = cheques
    clean, _ = run_all(files, shipped_classifier, options)
    plant_here(stage, monkeypatch)
    caplog.set_level(logging.INFO, logger="docproc")
    rows, summary = run_all(files, shipped_classifier, options)
    _check(rows, clean, stage)
    assert summary.failed_files == 1
    assert "traceback of the internal error" in caplog.text and f"ValueError: planted in {stage}" in caplog.text

    # --raise-on-error stops at it instead, with the exception itself.
    with pytest.raises(ValueError, match=f"planted in {stage}"):
        run_all(files, shipped_classifier, RunOptions(template=options.template, raise_on_error=True))


def test_a_failure_in_a_stage_costs_only_its_file_on_a_dask_worker(
        cheques, shipped_classifier, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("distributed", reason="Dask is in the test extra: pip install -e '.[test]'")
    from docproc.recognize.model_files import SHIPPED_CHECK, SHIPPED_SEQUENCE, default_model_path
    from docproc.run.cluster import ModelFiles, read_files_on_worker

    options, files = cheques
    clean, _ = run_all(files, shipped_classifier, options)
    plant_here("segment_field", monkeypatch)
    # What a Dask worker runs for a task, here in this process.
    models = ModelFiles.read(default_model_path(), SHIPPED_CHECK, 1024, SHIPPED_SEQUENCE if options.reads_lines else None)
    done = read_files_on_worker(files, options, models)
    _check([row for d in done for row in d.rows], clean, "segment_field")


def test_a_failure_while_decoding_costs_only_its_page(cheques, shipped_classifier,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    options, files = cheques
    clean, _ = run_all(files, shipped_classifier, options)
    real, calls = pipeline.decode_field, {"n": 0}

    def failing_on_the_third_field(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:  # the first field of the second file (a cheque has two)
            raise ValueError("planted in decode_field")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "decode_field", failing_on_the_third_field)
    rows, summary = run_all(files, shipped_classifier, options)
    _check(rows, clean, "decode_field")
    assert summary.failed_files == 1


@pytest.mark.parametrize("stage", STAGES)
def test_a_failure_in_a_stage_costs_only_its_file_in_a_worker(
        stage: str, cheques, shipped_classifier, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    options, files = cheques
    clean, _ = run_all(files, shipped_classifier, options)
    monkeypatch.setenv("DOCPROC_TEST_STAGE", stage)
    monkeypatch.setattr(workers, "prepare_part", prepare_with_a_planted_failure)
    rows, summary = run_all(files, shipped_classifier, options, jobs=2)
    _check(rows, clean, stage)
    assert summary.failed_files == 1
