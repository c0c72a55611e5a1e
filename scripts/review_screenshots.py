"""The README's screenshots of the review station, taken in headless Chromium.

    python scripts/review_screenshots.py

Reads the sample cheques (MNIST test digits) with every field in review, serves the
station for them, and saves docs/review-station.png (a field as it is first shown) and
docs/review-station-check.png (an entry the template's rules refuse, as it is typed).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.station_browser import (  # noqa: E402
    StationProcess,
    browser,
    free_port,
    key_value,
    press,
    sign_in,
    wait_for,
)
from tests.review_job import read_job  # noqa: E402


def main() -> None:
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory(prefix="docproc-screenshots-") as tmp:
        job = read_job(Path(tmp))
        station = StationProcess(job.review_args(), free_port())
        driver = browser(1100, 760)
        try:
            sign_in(driver, station.url, "ann")
            key_value(driver, "31012026")  # the date: keyed, so the counter has moved
            time.sleep(0.3)
            driver.save_screenshot(str(ROOT / "docs" / "review-station.png"))
            press(driver, "4")
            wait_for(driver, lambda d: d.find_element(By.ID, "problems").text, "the live check")
            driver.save_screenshot(str(ROOT / "docs" / "review-station-check.png"))
        finally:
            driver.quit()
            station.stop()
    print("written docs/review-station.png and docs/review-station-check.png")


if __name__ == "__main__":
    main()
