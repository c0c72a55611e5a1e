"""Driving the review station as an operator does: ``docproc review`` started as a process,
headless Chromium (Debian's chromium and chromium-driver) at the keyboard. Shared by the
browser tests (tests/test_review_browser.py), the latency benchmark (benchmarks/review.py)
and the README's screenshots (scripts/review_screenshots.py)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
WAIT_S = 20.0


def chromium_paths() -> tuple[str, str] | None:
    """Chromium and its driver, or None where they are not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StationProcess:
    """``docproc review ARGS --port PORT`` running in its own process until stopped or killed."""

    def __init__(self, args: list[str], port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
        self.process = subprocess.Popen([DOCPROC, "review", *args, "--port", str(port)], stderr=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, text=True, env=env)
        self.said: list[str] = []
        self.url = ""
        deadline = time.monotonic() + 60
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                raise AssertionError(f"docproc review ended before it served: {''.join(self.said)}")
            self.said.append(line)
            found = re.search(r"open (http://\S+) in a browser", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise AssertionError("docproc review did not print its address within a minute")
        self._wait_listening(port)

    @staticmethod
    def _wait_listening(port: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nothing listens on port {port}")

    def kill(self) -> None:
        """Kill it outright (SIGKILL: no clean-up, as a crash or a pulled plug)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        """Stop it as Ctrl-C does; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def browser(width: int = 1280, height: int = 900) -> webdriver.Chrome:
    """A headless Chromium with a profile of its own (its own operator name)."""
    paths = chromium_paths()
    assert paths is not None, "chromium and chromedriver are needed (scripts/bootstrap.sh test installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(paths[1]), options=options)


def shown_field(driver: webdriver.Chrome) -> str:
    """The queue place of the field on screen ('' when the queue is done), once its crop is shown."""
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-field") or ""


def wait_for(driver: webdriver.Chrome, condition, what: str):  # type: ignore[no-untyped-def]
    """Wait for ``condition(driver)`` to be true; fail saying ``what`` was waited for."""
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.02).until(condition)
    except TimeoutException as exc:
        raise AssertionError(f"waited {WAIT_S:g} s for {what}; the page says: "
                             f"{driver.find_element(By.TAG_NAME, 'body').text!r}") from exc


def wait_moved(driver: webdriver.Chrome, before: str | None) -> str:
    """Wait until a field other than ``before`` is shown, or the queue is done ("done")."""

    def moved(d: webdriver.Chrome) -> str | bool:
        if done(d):
            return "done"
        now = shown_field(d)
        return now if now and now != before else False

    return wait_for(driver, moved, "the next field")


def done(driver: webdriver.Chrome) -> bool:
    """Whether the page says nothing is left in the queue."""
    return driver.find_element(By.ID, "done").is_displayed()


def sign_in(driver: webdriver.Chrome, url: str, operator: str) -> str:
    """Open the station and give the operator's name; the first field shown."""
    driver.get(url)
    name = wait_for(driver, lambda d: d.find_element(By.ID, "operator") if d.find_element(By.ID, "operator")
                    .is_displayed() else False, "the name prompt")
    name.send_keys(operator, Keys.ENTER)
    return wait_moved(driver, None)


def press(driver: webdriver.Chrome, *keys: str) -> None:
    """Keys pressed wherever the focus is, as the operator presses them."""
    ActionChains(driver).send_keys(*keys).perform()


def ctrl_z(driver: webdriver.Chrome) -> None:
    """Ctrl-Z: take back the last field."""
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()


def key_value(driver: webdriver.Chrome, digits: str) -> str:
    """Type ``digits`` over the selected reading (none: key what is in the entry) and press
    Enter (again, where the template's rules ask for a second Enter); the next field's place."""
    before = shown_field(driver)
    press(driver, *([digits] if digits else []), Keys.ENTER)

    def answered(d: webdriver.Chrome) -> bool:
        return shown_field(d) != before or done(d) or "Enter again" in d.find_element(By.ID, "problems").text

    wait_for(driver, answered, "the field to be keyed")
    if shown_field(driver) == before and not done(driver):
        press(driver, Keys.ENTER)
    return wait_moved(driver, before)
