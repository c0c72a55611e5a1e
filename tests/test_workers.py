"""Worker processes (--jobs): the same rows as one process, whatever the batch size; a
file that kills its worker, or hangs in it, costs an error row and nothing else."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from docproc.config import RunOptions
from docproc.ingest.inputs import InputFile, discover
from docproc.layout.templates import load_template
from docproc.run import parts, pipeline, prepare, workers
from docproc.run.failures import FileFailure
from docproc.run.pipeline import run_all
from samples.pages import write_set

pytestmark = pytest.mark.slow
REAL_PREPARE = parts.prepare_part


def crash_on_poison(item: InputFile, options: RunOptions, first: int = 1, last: int | None = None) -> object:
    """Runs in a worker process: the file named 'poison' kills it outright, as a
    segfault in a decoder or the kernel's OOM killer would."""
    if "poison" in item.name:
        os._exit(139)
    return REAL_PREPARE(item, options, first, last)


def crash_on_poison_once_the_first_two_are_read(item: InputFile, options: RunOptions, first: int = 1,
                                                 last: int | None = None) -> object:
    """Runs in a worker process: each file read leaves a mark in $DOCPROC_TEST_MARKS; the
    file named 'poison' waits until two files are read, marks its death and kills its
    worker. The run's first two files are then done before the pool breaks."""
    marks = Path(os.environ["DOCPROC_TEST_MARKS"])
    if "poison" in item.name:
        deadline = time.monotonic() + 60
        while len(list(marks.glob("*.read"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        (marks / "poison.died").touch()
        os._exit(139)
    part = REAL_PREPARE(item, options, first, last)
    (marks / f"{item.name}.read").touch()
    return part


def hang_on_slow(item: InputFile, options: RunOptions, first: int = 1, last: int | None = None) -> object:
    """Runs in a worker process: the file named 'slow' hangs while its fields are found."""
    if "slow" in item.name:
        real_page_fields = prepare.page_fields

        def hanging(page, template, split_documents=False):  # type: ignore[no-untyped-def]
            time.sleep(30)
            return real_page_fields(page, template, split_documents)

        prepare.page_fields = hanging
    return REAL_PREPARE(item, options, first, last)


def stuck_in_native_code_on_slow(item: InputFile, options: RunOptions, first: int = 1,
                                 last: int | None = None) -> object:
    """Runs in a worker process: the file named 'slow' is stuck inside C for 60 s with the
    file timer's signal blocked, as a decoder looping in native code is: no Python-level
    timer can stop it. When it got stuck goes into $DOCPROC_TEST_MARKS."""
    if "slow" in item.name:
        import ctypes
        import signal

        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        (Path(os.environ["DOCPROC_TEST_MARKS"]) / "stuck").write_text(repr(time.time()))
        ctypes.CDLL(None).sleep(60)
    return REAL_PREPARE(item, options, first, last)


def page_seven_is_damaged(item: InputFile, options: RunOptions, first: int = 1, last: int | None = None) -> object:
    """Runs in a worker process: page 7 of a PDF cannot be read."""
    if first <= 7 <= (last or 7):
        part = REAL_PREPARE(item, options, first, min(last or 6, 6))
        return parts.PreparedPart(part.pages, FileFailure(7, "poppler could not render page 7"))
    return REAL_PREPARE(item, options, first, last)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("set")
    write_set(out, cheques=6, forms=1, zips=3, seed=8080)
    return out


def test_rows_do_not_depend_on_the_number_of_workers(scans: Path, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    template = load_template(scans / "templates" / "cheque.yaml")
    cheques = discover([str(scans / "scans" / "cheques")], root=scans / "scans")
    one, _ = run_all(cheques, shipped_classifier, RunOptions(template=template), jobs=1)
    two, summary = run_all(cheques, shipped_classifier, RunOptions(template=template), jobs=2)
    assert two == one and summary.pages == 6
    # Without a template, across kinds (a two-page PDF, a three-page TIFF), small batches.
    everything = discover([str(scans / "scans")], root=scans / "scans")
    shipped_classifier.batch_size = 16
    try:
        small_batches, _ = run_all(everything, shipped_classifier, RunOptions(), jobs=3)
    finally:
        shipped_classifier.batch_size = 1024
    alone, _ = run_all(everything, shipped_classifier, RunOptions(), jobs=1)
    assert small_batches == alone
    assert [r.file for r in alone if r.page == 2][:1] == ["forms/form-0001.pdf"]


def cheques_with_poison_third(scans: Path, tmp_path: Path, classifier) -> tuple[RunOptions, list[InputFile], list]:  # type: ignore[no-untyped-def,type-arg]
    """The set's cheques with a copy named 'poison.png' third, and the rows of the
    cheques alone, read in this process."""
    options = RunOptions(template=load_template(scans / "templates" / "cheque.yaml"))
    cheques = sorted((scans / "scans" / "cheques").glob("*"))
    poison = tmp_path / "poison.png"
    poison.write_bytes(cheques[0].read_bytes())
    files = [InputFile(c, c.name) for c in cheques[:2]] + [InputFile(poison, "poison.png")] + \
        [InputFile(c, c.name) for c in cheques[2:]]
    expected, _ = run_all([f for f in files if f.path != poison], classifier, options)
    return options, files, expected


def test_a_file_that_kills_its_worker_gets_an_error_row_and_the_rest_are_read(
        scans: Path, tmp_path: Path, shipped_classifier, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    options, files, expected = cheques_with_poison_third(scans, tmp_path, shipped_classifier)
    monkeypatch.setattr(workers, "prepare_part", crash_on_poison)
    rows, summary = run_all(files, shipped_classifier, options, jobs=2)
    errors = [r for r in rows if r.status == "error"]
    assert [r.file for r in errors] == ["poison.png"]
    assert "worker process reading this file died" in errors[0].error and "--jobs 1" in errors[0].error
    assert [r for r in rows if r.status != "error"] == expected
    assert summary.failed_files == 1


def test_a_worker_that_dies_while_this_process_is_busy_costs_only_its_file(
        scans: Path, tmp_path: Path, shipped_classifier, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # The workers run ahead while this process classifies, so the pool can break between
    # two results and be found broken when the next file is sent, not when a result is
    # awaited. The run must go on all the same (CI once caught it failing here).
    options, files, expected = cheques_with_poison_third(scans, tmp_path, shipped_classifier)
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("DOCPROC_TEST_MARKS", str(marks))
    monkeypatch.setattr(workers, "prepare_part", crash_on_poison_once_the_first_two_are_read)

    def busy_until_the_pool_breaks(item: InputFile, number: int) -> None:
        if item is files[0]:
            deadline = time.monotonic() + 60
            while not (marks / "poison.died").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # for the pool's own thread to see the dead worker

    rows, summary = run_all(files, shipped_classifier, options, on_page=busy_until_the_pool_breaks, jobs=2)
    assert (marks / "poison.died").exists()
    assert [(r.file, r.status) for r in rows if r.status == "error"] == [("poison.png", "error")]
    assert [r for r in rows if r.status != "error"] == expected
    assert summary.failed_files == 1


def test_a_worker_killed_by_work_no_longer_waited_on_is_replaced(scans: Path) -> None:
    # A later part of a file an error has ended is dropped, but may already be running and
    # kill its worker: nothing waits for it, and the pool must read the next files all the same.
    from pebble import ProcessExpired

    template = load_template(scans / "templates" / "cheque.yaml")
    options = RunOptions(template=template)
    cheques = [InputFile(c, c.name) for c in sorted((scans / "scans" / "cheques").glob("*"))[:3]]
    pool = workers.start_pool(2)
    assert isinstance(pool.schedule(os._exit, (139,)).exception(timeout=60), ProcessExpired)
    feed = workers.WorkerFeed(cheques, 2, options, pool)
    read = [(part.file.name, [page.number for page in part.pages], part.file_done) for part in feed]
    assert read == [(c.name, [1], True) for c in cheques]


def test_the_file_time_limit_holds_in_a_worker(scans: Path, tmp_path: Path, shipped_classifier,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    template = load_template(scans / "templates" / "cheque.yaml")
    cheques = sorted((scans / "scans" / "cheques").glob("*"))[:3]
    slow = tmp_path / "slow.png"
    slow.write_bytes(cheques[0].read_bytes())
    files = [InputFile(cheques[0], "a.png"), InputFile(slow, "slow.png"), InputFile(cheques[1], "b.png")]
    monkeypatch.setattr(workers, "prepare_part", hang_on_slow)
    rows, _ = run_all(files, shipped_classifier, RunOptions(template=template, file_timeout=2.0), jobs=2)
    assert [(r.file, r.status) for r in rows if r.status == "error"] == [("slow.png", "error")]
    assert "stopped after 2 s (--file-timeout)" in next(r.error for r in rows if r.status == "error")
    assert {r.file for r in rows if r.status != "error"} == {"a.png", "b.png"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_stuck_in_native_code_is_killed_within_twice_its_limit(
        scans: Path, tmp_path: Path, shipped_classifier, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        jobs: int) -> None:
    # With --jobs 1 too: a file time limit reads in a worker, so that a hang can be killed.
    template = load_template(scans / "templates" / "cheque.yaml")
    cheques = sorted((scans / "scans" / "cheques").glob("*"))[:2]
    slow = tmp_path / "slow.png"
    slow.write_bytes(cheques[0].read_bytes())
    marks = tmp_path / "marks"
    marks.mkdir()
    files = [InputFile(cheques[0], "a.png"), InputFile(cheques[1], "b.png"), InputFile(slow, "slow.png")]
    monkeypatch.setenv("DOCPROC_TEST_MARKS", str(marks))
    monkeypatch.setattr(workers, "prepare_part", stuck_in_native_code_on_slow)
    limit = 4.0
    rows, _ = run_all(files, shipped_classifier, RunOptions(template=template, file_timeout=limit), jobs=jobs)
    ended = time.time()
    assert [(r.file, r.status) for r in rows if r.status == "error"] == [("slow.png", "error")]
    error = next(r.error for r in rows if r.status == "error")
    assert "stopped after 4 s (--file-timeout)" in error and "worker process was killed" in error
    assert {r.file for r in rows if r.status != "error"} == {"a.png", "b.png"}
    stuck_for = ended - float((marks / "stuck").read_text())
    assert limit < stuck_for < 2 * limit, stuck_for


def test_without_worker_processes_the_run_goes_on_in_this_one(scans: Path, shipped_classifier,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    template = load_template(scans / "templates" / "cheque.yaml")
    cheques = discover([str(scans / "scans" / "cheques")], root=scans / "scans")
    expected, _ = run_all(cheques, shipped_classifier, RunOptions(template=template), jobs=1)

    def no_semaphores(jobs: int) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(pipeline, "start_pool", no_semaphores)
    with caplog.at_level("WARNING", logger="docproc"):
        rows, _ = run_all(cheques, shipped_classifier, RunOptions(template=template), jobs=2)
    assert rows == expected
    assert "cannot start worker processes" in caplog.text and "reading in this process only" in caplog.text


def test_a_long_pdf_is_shared_among_the_workers_in_parts(tmp_path: Path, shipped_classifier,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    write_set(tmp_path, cheques=0, forms=1, zips=0, seed=8181, form_pages=10)
    template = load_template(tmp_path / "templates" / "form.yaml")
    files = discover([str(tmp_path / "scans")], root=tmp_path / "scans")
    alone, _ = run_all(files, shipped_classifier, RunOptions(template=template), jobs=1)
    # Parts of 4 pages: 1-4, 5-8, 9-10, read by two workers and put back in page order.
    monkeypatch.setattr(parts, "PAGES_PER_PART", 4)
    in_parts, summary = run_all(files * 1, shipped_classifier, RunOptions(template=template), jobs=2)
    assert in_parts == alone and summary.pages == 10 and max(r.page for r in in_parts) == 10

    # A page that cannot be read ends the file there, as it does read in one piece: the
    # pages after it, read by another worker, are dropped.
    monkeypatch.setattr(workers, "prepare_part", page_seven_is_damaged)
    damaged, summary = run_all(files, shipped_classifier, RunOptions(template=template), jobs=2)
    assert [r for r in damaged if r.status != "error"] == [r for r in alone if r.page < 7]
    assert [(r.page, r.error) for r in damaged if r.status == "error"] == [(7, "poppler could not render page 7")]
    assert summary.pages == 6


def test_a_worker_whose_run_is_gone_leaves_even_if_it_was_still_starting() -> None:
    import subprocess
    import sys

    # The worker is told its run's pid; a run killed before the worker started watching
    # is already gone, so the worker finds itself with another parent and leaves at once.
    gone = subprocess.run([sys.executable, "-c", "from docproc.run.workers import watch_parent; watch_parent(1)"],
                          timeout=60)
    assert gone.returncode == 1


def _malloc_setting() -> str | None:
    return os.environ.get("MALLOC_MMAP_THRESHOLD_")


def test_workers_start_with_malloc_set_to_keep_freed_memory() -> None:
    from docproc.run.native_memory import malloc_environment

    pool = workers.start_pool(1)
    try:
        assert pool.schedule(_malloc_setting).result(timeout=60) == malloc_environment()["MALLOC_MMAP_THRESHOLD_"]
    finally:
        pool.close()
        pool.join()
