"""Scale-out on Dask: a real `dask scheduler` and two `dask worker` processes on
127.0.0.1 read the files, and the CSV is byte for byte the local run's."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samples.pages import write_set

pytest.importorskip("distributed", reason="Dask is in the test extra: pip install -e '.[test]'")
DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(count, timeout=120)


def test_a_dask_cluster_writes_the_same_csv_as_a_local_run(tmp_path: Path) -> None:
    write_set(tmp_path, cheques=5, forms=1, zips=0, seed=3131)
    (tmp_path / "scans" / "cheques" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    cluster = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(1)
        for _ in range(2):
            cluster.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_workers(address, 2)

        def run(output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([DOCPROC, "run", str(tmp_path / "scans" / "cheques"), str(tmp_path / "scans" / "forms"),
                                   "--root", str(tmp_path / "scans"), "--template",
                                   str(tmp_path / "templates" / "cheque.yaml"), "-o", str(output), "-q", *extra],
                                  capture_output=True, text=True, timeout=600)

        local = run(tmp_path / "local.csv", "--jobs", "1")
        on_dask = run(tmp_path / "dask.csv", "--scheduler", address)
        assert local.returncode == on_dask.returncode == 3, on_dask.stderr  # the broken file
        assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
        assert "broken.png" in (tmp_path / "dask.csv").read_text()
        # The ledger works the same way: a rerun on the cluster reads nothing.
        again = run(tmp_path / "dask.csv", "--scheduler", address, "--summary-json", str(tmp_path / "s.json"))
        assert '"files_read": 1' in (tmp_path / "s.json").read_text()  # only the broken file is tried again
        assert again.returncode == 3
        # The second reader goes to the workers too, and reads there as it does here.
        local_both = run(tmp_path / "local-both.csv", "--jobs", "1", "--reader", "both")
        dask_both = run(tmp_path / "dask-both.csv", "--scheduler", address, "--reader", "both")
        assert local_both.returncode == dask_both.returncode == 3, dask_both.stderr
        assert (tmp_path / "dask-both.csv").read_bytes() == (tmp_path / "local-both.csv").read_bytes()
    finally:
        for process in reversed(cluster):
            process.terminate()
        for process in cluster:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_workers_get_the_digit_models_peers(peered_classifier) -> None:  # type: ignore[no-untyped-def]
    from docproc.recognize.model_files import SHIPPED_CHECK, peers_path
    from docproc.run.cluster import ModelFiles, classifier_on_worker

    models = ModelFiles.read(peered_classifier.path, SHIPPED_CHECK, 256)
    assert models.peers == peers_path(peered_classifier.path).with_suffix(".onnx").read_bytes()  # the twin
    on_worker = classifier_on_worker(models)  # as a worker loads them, from the bytes alone
    assert on_worker.peers is not None and on_worker.peers.members == peered_classifier.peers.members


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    write_set(tmp_path, cheques=1, forms=0, zips=0, seed=3132, formats=("png",))
    result = subprocess.run([DOCPROC, "run", str(tmp_path / "scans"), "-o", str(tmp_path / "r.csv"), "-q",
                             "--scheduler", f"tcp://127.0.0.1:{_free_port()}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 11, result.stderr
    assert "cannot reach the Dask scheduler" in result.stderr and "Traceback" not in result.stderr


class _Done:
    def __init__(self, value: object = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error

    def result(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


class _ClusterWithAPoisonedFile:
    """Stands in for a Dask client: tasks run here, and any task holding 'poison.png'
    dies the way Dask reports a task that killed its workers too often."""

    scheduler = type("Scheduler", (), {"address": "tcp://test"})()

    def nthreads(self) -> dict[str, int]:
        return {"worker": 1}

    def scatter(self, value: object, broadcast: bool = False, hash: bool = True) -> object:
        return value

    def submit(self, function, items, options, models, pure: bool = True) -> _Done:  # type: ignore[no-untyped-def]
        from distributed import KilledWorker

        if any(item.name == "poison.png" for item in items):
            return _Done(error=KilledWorker("read_files_on_worker", "tcp://worker", 3))
        return _Done(function(items, options, models))


def test_a_file_that_kills_dask_workers_gets_an_error_row_and_its_task_mates_are_read(tmp_path: Path) -> None:
    from docproc.config import RunOptions
    from docproc.ingest.inputs import InputFile, discover
    from docproc.layout.templates import load_template
    from docproc.recognize.model_files import SHIPPED_CHECK, default_model_path
    from docproc.run.cluster import FILES_PER_TASK, read_with_client

    write_set(tmp_path, cheques=3, forms=0, zips=0, seed=3133, formats=("png",))
    cheques = discover([str(tmp_path / "scans" / "cheques")], root=tmp_path / "scans")
    poison = InputFile(cheques[0].path, "poison.png")
    files = [cheques[0], poison, *cheques[1:]]
    assert len(files) <= FILES_PER_TASK  # one task: the poison takes its mates down with it
    options = RunOptions(template=load_template(tmp_path / "templates" / "cheque.yaml"))
    done = list(read_with_client(_ClusterWithAPoisonedFile(), files, options,
                                 [default_model_path(), SHIPPED_CHECK], 1024))
    assert [d.file.name for d in done] == [f.name for f in files]
    poisoned = done[1].rows
    assert len(poisoned) == 1 and poisoned[0].status == "error"
    assert "the Dask workers reading this file died (KilledWorker)" in poisoned[0].error
    # Its task mates were read again one by one, and read.
    assert all(row.status != "error" for d in done if d.file is not poison for row in d.rows)
    assert sum(len(d.rows) for d in done if d.file is not poison) == 2 * len(cheques)
