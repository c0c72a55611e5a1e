"""A real job to review: the sample cheques (MNIST test digits) read by ``docproc run``
with every field sent to review, so the station has a queue of real crops and rules."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.commands import docproc

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
TEMPLATE = SAMPLES / "templates" / "cheque.yaml"


@dataclass(frozen=True)
class Job:
    """A read job: its scans folder (the run's --root), its results and the template."""

    scans: Path
    results: Path
    template: Path = TEMPLATE

    def review_args(self, *more: str) -> list[str]:
        """``docproc review`` arguments for this job."""
        return [str(self.results), "--scans", str(self.scans), "--template", str(self.template), *more]


def read_job(folder: Path) -> Job:
    """Copy the sample cheques to ``folder`` and read them with every field in review."""
    scans = folder / "scans"
    shutil.copytree(SAMPLES / "scans" / "cheques", scans / "cheques")
    results = folder / "results.csv"
    done = docproc("run", str(scans / "cheques"), "--root", str(scans), "--template", str(TEMPLATE),
                   "--review-below", "1.0", "-o", str(results), "-q")
    assert done.returncode == 0, done.stderr
    return Job(scans, results)


def fresh_results(job: Job, folder: Path) -> Job:
    """The job with its results copied into ``folder``, so this test's store (beside the
    results) is its own; the scans are shared and only read."""
    results = folder / "results.csv"
    shutil.copy(job.results, results)
    return Job(job.scans, results, job.template)
