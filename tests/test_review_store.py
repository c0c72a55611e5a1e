"""The review queue and store: what goes in the queue, and that nothing keyed is lost or
keyed twice, by two operators, two processes, an undo, a changed scan or a rerun."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from docproc.errors import ReviewError
from docproc.review.crops import ScanFiles
from docproc.review.export import current_entries
from docproc.review.queue import QueueItem, build_queue, read_results
from docproc.review.station import open_review
from docproc.review.store import HOLD_S, Refused, ReviewStore
from tests.commands import docproc
from tests.review_job import Job, fresh_results


def test_the_queue_is_the_review_rows_least_confident_first(review_job: Job) -> None:
    items = read_results(review_job.results)
    assert len(items) == 8 and all(item.status == "review" for item in items)
    queue = build_queue(items)
    assert [i.confidence for i in queue] == sorted(i.confidence for i in items)
    assert build_queue(items, order="file") == items
    ok = [replace(item, status="ok") for item in items]
    error = [replace(item, status="error", field=f"{item.field}-broken") for item in items]
    assert build_queue(ok + error) == []


def test_the_quality_sample_is_a_share_of_ok_rows_fixed_by_the_stores_salt(review_job: Job) -> None:
    base = read_results(review_job.results)[0]
    ok = [replace(base, status="ok", page=page) for page in range(1, 2001)]
    picked = build_queue(ok, sample=0.1, salt="salt-one")
    assert 150 < len(picked) < 250
    assert picked == build_queue(ok, sample=0.1, salt="salt-one")
    assert picked != build_queue(ok, sample=0.1, salt="salt-two")
    assert build_queue(ok, sample=1.0, salt="x", order="file") == ok
    # Least confident first, the sampled ok rows come at random places among the review rows.
    review = [replace(base, page=page, confidence=page / 1000) for page in range(2001, 2401)]
    mixed = build_queue(review + ok, sample=0.1, salt="salt-one")
    places = [n for n, item in enumerate(mixed) if item.status == "ok"]
    assert len(places) == len(picked) and places[0] < len(mixed) / 4 and places[-1] > len(mixed) * 3 / 4
    assert [i.confidence for i in mixed if i.status == "review"] == sorted(i.confidence for i in review)
    with pytest.raises(ReviewError, match="--sample"):
        build_queue(ok, sample=1.5)


def test_a_results_file_that_is_not_docprocs_is_refused(tmp_path: Path) -> None:
    strange = tmp_path / "strange.csv"
    strange.write_text("name,amount\nann,12\n")
    with pytest.raises(ReviewError, match="not a docproc results CSV"):
        read_results(strange)
    with pytest.raises(ReviewError, match="does not exist"):
        read_results(tmp_path / "missing.csv")


def _store(tmp_path: Path, items: list[QueueItem], sha: str = "") -> ReviewStore:
    store = ReviewStore(tmp_path / "review.sqlite")
    store.load_queue((item, sha) for item in items)
    return store


def test_a_field_shown_to_one_operator_is_held_for_them(review_job: Job, tmp_path: Path) -> None:
    items = read_results(review_job.results)
    store = _store(tmp_path, items)
    ann, bob = store.next_for("ann", now=1000.0), store.next_for("bob", now=1000.0)
    assert ann is not None and bob is not None and ann.seq != bob.seq
    with pytest.raises(Refused, match="held by ann"):
        store.key_field("bob", ann.item.key, "value", "1", "1", now=1001.0)
    # A claim lapses: a browser closed mid-field does not hold it for ever.
    store.key_field("bob", ann.item.key, "value", "1", "1", now=1000.0 + HOLD_S + 1)
    with pytest.raises(Refused, match="already keyed by bob"):
        store.key_field("ann", ann.item.key, "value", "2", "2", now=1000.0 + HOLD_S + 2)
    assert [(k.key, k.text, k.operator) for k in store.keyed()] == [(ann.item.key, "1", "bob")]


def test_undo_takes_back_the_last_field_and_skip_puts_one_last(review_job: Job, tmp_path: Path) -> None:
    items = build_queue(read_results(review_job.results), order="file")
    store = _store(tmp_path, items)
    first = store.next_for("ann")
    assert first is not None and first.seq == 0
    store.key_field("ann", first.item.key, "value", "123", "1.23")
    second = store.next_for("ann")
    assert second is not None and second.seq == 1
    back = store.undo("ann")
    assert back is not None and back.seq == 0 and back.undone is not None and back.undone.marks == "1.23"
    assert store.keyed() == [] and [action for action, _ in store.events()] == ["keyed", "undone"]
    store.key_field("ann", back.item.key, "blank", "", "")
    store.skip("ann", second.item.key)
    shown = [store.next_for("ann")]
    while shown[-1] is not None and shown[-1].seq != 1:
        store.key_field("ann", shown[-1].item.key, "value", "7", "7")
        shown.append(store.next_for("ann"))
    assert [s.seq for s in shown if s is not None] == [2, 3, 4, 5, 6, 7, 1]
    assert store.progress("ann").left == 1


def _key_all(path: str, operator: str, start: multiprocessing.synchronize.Barrier,
             counts: multiprocessing.queues.Queue) -> None:
    store = ReviewStore(Path(path))
    keyed = 0
    start.wait()  # both processes open the store first, then race for the queue
    while (shown := store.next_for(operator)) is not None:
        try:
            store.key_field(operator, shown.item.key, "value", "42", "42")
            keyed += 1
        except Refused:
            continue
        time.sleep(0.002)  # an operator's pause between fields, however short, lets the other one in
    counts.put(keyed)


def test_two_processes_on_one_store_key_every_field_once(review_job: Job, tmp_path: Path) -> None:
    base = read_results(review_job.results)
    items = [replace(item, page=page) for page in range(1, 26) for item in base]  # 200 fields
    _store(tmp_path, items).close()
    spawn = multiprocessing.get_context("spawn")
    start, done = spawn.Barrier(2), spawn.Queue()
    workers = [spawn.Process(target=_key_all, args=(str(tmp_path / "review.sqlite"), name, start, done))
               for name in ("ann", "bob")]
    for worker in workers:
        worker.start()
    counts = [done.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    store = ReviewStore(tmp_path / "review.sqlite")
    keyed = store.keyed()
    assert sum(counts) == len(items) == len(keyed) == len({k.key for k in keyed})
    assert all(c > 0 for c in counts), counts  # both really worked the queue
    assert [a for a, _ in store.events()].count("keyed") == len(items)


def test_a_value_keyed_off_a_scan_that_changed_is_not_used(review_job: Job, tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    shutil.copytree(review_job.scans, scans)
    job = fresh_results(Job(scans, review_job.results), tmp_path)
    review = open_review(job.results, scans)
    shown = review.store.next_for("ann")
    assert shown is not None
    review.store.key_field("ann", shown.item.key, "value", "5", "5")
    assert review.store.progress("ann").done == 1
    changed = scans / shown.item.file
    changed.write_bytes(changed.read_bytes() + b"\0")  # another scan under the same name
    again = open_review(job.results, scans)
    assert again.store.progress("ann").done == 0
    assert current_entries(again.store, ScanFiles(scans), {shown.item.file}) == {}


def test_a_rerun_of_docproc_run_keeps_what_was_keyed(review_job: Job, tmp_path: Path) -> None:
    job = fresh_results(review_job, tmp_path)
    review = open_review(job.results, job.scans)
    shown = review.store.next_for("ann")
    assert shown is not None
    review.store.key_field("ann", shown.item.key, "value", "31122026", "31122026")
    review.store.close()
    shutil.copy(job.results, tmp_path / "before.csv")
    rerun = docproc("run", str(job.scans / "cheques"), "--root", str(job.scans), "--template", str(job.template),
                    "--review-below", "1.0", "-o", str(job.results), "-q")
    assert rerun.returncode == 0, rerun.stderr
    assert job.results.read_bytes() == (tmp_path / "before.csv").read_bytes()
    again = open_review(job.results, job.scans)
    assert again.store.progress("ann").done == 1
    assert [k.text for k in again.store.keyed()] == ["31122026"]
    nxt = again.store.next_for("ann")
    assert nxt is not None and nxt.item.key != shown.item.key


def test_a_damaged_store_is_refused_and_kept(tmp_path: Path) -> None:
    damaged = tmp_path / "review.sqlite"
    damaged.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ReviewError, match="damaged"):
        ReviewStore(damaged)
    assert damaged.read_bytes().startswith(b"not a database")
