"""The review station in a real browser: headless Chromium keying fields with the keyboard
against ``docproc review`` running as a process, two operators on one queue, and a
station killed mid-queue. Every test checks the store and the export afterwards: zero
fields lost, zero keyed twice."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from benchmarks.station_browser import (
    StationProcess,
    browser,
    chromium_paths,
    ctrl_z,
    done,
    free_port,
    key_value,
    press,
    shown_field,
    sign_in,
    wait_for,
    wait_moved,
)
from docproc.review.store import ReviewStore, default_store_path
from tests.commands import docproc
from tests.review_job import Job, fresh_results

pytestmark = pytest.mark.skipif(chromium_paths() is None,
                                reason="chromium and chromedriver are not installed (scripts/bootstrap.sh test "
                                       "installs them)")


@pytest.fixture()
def job(review_job: Job, tmp_path: Path) -> Job:
    return fresh_results(review_job, tmp_path)


def _exported(job: Job, folder: Path) -> dict[tuple[str, str], dict[str, str]]:
    out = folder / "reviewed.csv"
    done_ = docproc("review", *job.review_args("--export", str(out)))
    assert done_.returncode == 0, done_.stderr
    with out.open() as handle:
        return {(r["file"], r["field"]): r for r in csv.DictReader(handle) if r["status"] == "keyed"}


def _where(driver) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(file, field) of the field on screen, from the line above its crop."""
    parts = driver.find_element(By.ID, "where").text.split(" · ")
    return parts[0], parts[-1]


def _entry(driver):  # type: ignore[no-untyped-def]
    return driver.find_element(By.ID, "entry")


def test_an_operator_keys_three_fields_by_keyboard_reloads_and_exports(job: Job, tmp_path: Path) -> None:
    station = StationProcess(job.review_args(), free_port())
    driver = browser()
    try:
        first = sign_in(driver, station.url, "ann")
        # The machine's reading is selected in the entry: typing replaces it.
        entry = _entry(driver)
        reading = driver.find_element(By.ID, "reading").text
        assert entry.get_attribute("value") == reading
        assert driver.execute_script("const e = arguments[0]; return [e.selectionStart, e.selectionEnd, "
                                     "document.activeElement === e]", entry) == [0, len(reading), True]
        assert driver.find_element(By.ID, "reason").text.startswith("In review:")
        assert "digits" in driver.find_element(By.ID, "rules").text
        assert "0 done · 8 left" in driver.find_element(By.ID, "counter").text
        # The rules are checked while typing.
        press(driver, "1")
        wait_for(driver, lambda d: "expected" in d.find_element(By.ID, "problems").text, "the live length check")
        press(driver, Keys.BACKSPACE)
        keyed = {}
        keyed[_where(driver)] = ("value", "01022026")
        second = key_value(driver, "01022026")
        assert second != first
        keyed[_where(driver)] = ("unreadable", "")
        press(driver, "u")
        third = wait_moved(driver, second)
        keyed[_where(driver)] = ("blank", "")
        press(driver, "b")
        fourth = wait_moved(driver, third)
        wait_for(driver, lambda d: "3 done · 5 left" in d.find_element(By.ID, "counter").text, "the counter")
        # A reload keeps the operator and everything keyed, and goes on where it was.
        driver.refresh()
        assert wait_moved(driver, None) == fourth
        assert "3 done · 5 left" in driver.find_element(By.ID, "counter").text
        # Ctrl-Z takes back the last one (keyed blank) and shows it again.
        ctrl_z(driver)
        assert wait_moved(driver, fourth) == third
        wait_for(driver, lambda d: "blank" in d.find_element(By.ID, "message").text, "what was taken back")
        press(driver, "b")
        assert wait_moved(driver, third) == fourth
    finally:
        driver.quit()
        assert station.stop() == 0
    exported = _exported(job, tmp_path)
    assert set(exported) == set(keyed)
    for where, (kind, text) in keyed.items():
        row = exported[where]
        assert (row["text"], row["keyed_by"]) == (text, "ann")
        assert row["reason"] == ("" if kind == "value" else f"keyed {kind}")
    store = ReviewStore(default_store_path(job.results))
    assert [action for action, _ in store.events()] == ["keyed"] * 3 + ["undone", "keyed"]


def test_two_operators_on_one_queue_never_key_the_same_field(job: Job) -> None:
    station = StationProcess(job.review_args(), free_port())
    ann, bob = browser(), browser()
    try:
        at = {"ann": sign_in(ann, station.url, "ann"), "bob": sign_in(bob, station.url, "bob")}
        assert at["ann"] != at["bob"]  # the field shown to ann is held for her
        seen: dict[str, list[tuple[str, str]]] = {"ann": [], "bob": []}
        drivers = {"ann": ann, "bob": bob}
        while not all(done(d) for d in drivers.values()):
            for name, driver in drivers.items():
                if done(driver):
                    continue
                seen[name].append(_where(driver))
                at[name] = key_value(driver, "7")
        assert seen["ann"] and seen["bob"]
        everything = seen["ann"] + seen["bob"]
        assert len(everything) == len(set(everything)) == 8
    finally:
        ann.quit()
        bob.quit()
        station.stop()
    store = ReviewStore(default_store_path(job.results))
    keyed = store.keyed()
    assert len(keyed) == len({k.key for k in keyed}) == 8
    assert {k.operator for k in keyed} == {"ann", "bob"}


def test_a_station_killed_mid_queue_loses_nothing(job: Job, tmp_path: Path) -> None:
    port = free_port()
    station = StationProcess(job.review_args(), port)
    driver = browser()
    keyed: list[tuple[str, str]] = []
    try:
        sign_in(driver, station.url, "ann")
        for _ in range(3):
            keyed.append(_where(driver))
            key_value(driver, "5")
        station.kill()
        # Enter while the station is down: the entry is kept and the operator is told.
        pending = _where(driver)
        before = shown_field(driver)
        press(driver, "9", Keys.ENTER)
        wait_for(driver, lambda d: "Not saved" in d.find_element(By.ID, "message").text, "the not-saved message")
        assert shown_field(driver) == before and _entry(driver).get_attribute("value") == "9"
        station = StationProcess(job.review_args(), port)
        # Enter again once it is back: the same page keys on without a reload.
        key_value(driver, "")
        keyed.append(pending)
        wait_for(driver, lambda d: "4 done · 4 left" in d.find_element(By.ID, "counter").text, "the counter")
    finally:
        driver.quit()
        station.stop()
    exported = _exported(job, tmp_path)
    assert set(exported) == set(keyed)
    assert [exported[w]["text"] for w in keyed] == ["5", "5", "5", "9"]
    store = ReviewStore(default_store_path(job.results))
    assert [a for a, _ in store.events()].count("keyed") == 4


def test_digits_typed_before_the_next_field_is_shown_are_kept_for_it(job: Job) -> None:
    station = StationProcess(job.review_args(), free_port())
    driver = browser()
    try:
        first = sign_in(driver, station.url, "ann")
        first_where = _where(driver)
        # Enter and the next field's digits at once, as a touch typist keys them.
        press(driver, Keys.ENTER, "4", "2")
        second = wait_moved(driver, first)
        wait_for(driver, lambda d: _entry(d).get_attribute("value") == "42", "the digits typed ahead")
        second_where = _where(driver)
        key_value(driver, "")
        wait_moved(driver, second)
    finally:
        driver.quit()
        station.stop()
    keyed = ReviewStore(default_store_path(job.results)).keyed()
    assert [k.text for k in keyed][1] == "42" and len(keyed) == 2
    assert first_where != second_where
