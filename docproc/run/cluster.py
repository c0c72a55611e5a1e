"""Scale-out on Dask: whole files read by the workers of a Dask distributed cluster.

Each worker process receives the models once (broadcast by the client as bytes, so
workers need no copy of docproc/models/: the digit model, its peers, the single-digit check and,
for ``--reader both`` or ``sequence``, the sequence reader and its calibration) and keeps
them loaded; it reads whole files, pages to
rows, exactly as a local run does, and sends the rows back. The client keeps files in
input order and does everything else (ledger, CSV) as a local run does, so the CSV is
the same. Workers must see the scan files at the same paths as the client (shared
storage). ``--file-timeout`` does not act on Dask workers: their tasks run outside the
main thread, where a process's alarm cannot reach.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docproc.config import RUNTIME, RunOptions
from docproc.errors import ClusterError
from docproc.ingest.inputs import InputFile
from docproc.recognize.classifier import DigitClassifier
from docproc.recognize.loading import load_classifier, load_sequence_reader, load_single_digit_check
from docproc.recognize.model_files import SHIPPED_SEQUENCE, calibration_path, peers_beside, peers_path
from docproc.recognize.native_stderr import captured_native_stderr
from docproc.recognize.networks import file_read
from docproc.run.failures import dask_workers_died, not_on_dask_worker
from docproc.run.native_memory import keep_freed_memory
from docproc.run.pipeline import FileRows, run_files

log = logging.getLogger("docproc")

# Files per Dask task: enough that the classifier's per-call cost and Dask's per-task
# cost are shared, few enough that a kill loses little and the cluster balances.
FILES_PER_TASK = 8

# Per worker process: the classifiers loaded so far, by the hash of their model bytes.
_LOADED: dict[str, DigitClassifier] = {}


@dataclass(frozen=True)
class ModelFiles:
    """The digit model, the single-digit check, the digit model's peers and the sequence
    reader with its calibration (each empty when not there), as bytes of the files the
    runtime reads (their ONNX twins, or the .keras files), to load on a worker."""

    digits: bytes
    check: bytes
    batch_size: int
    key: str = ""  # identifies the set on a worker that has loaded it before
    peers: bytes = b""
    sequence: bytes = b""
    calibration: bytes = b""
    runtime: str = RUNTIME

    @classmethod
    def read(cls, digits: Path, check: Path, batch_size: int, sequence: Path | None = None,
             runtime: str = RUNTIME) -> ModelFiles:
        """The model files' bytes, with their key; the peers are those beside ``digits``,
        the calibration the one beside ``sequence``."""
        digits_bytes, check_bytes = file_read(digits, runtime).read_bytes(), file_read(check, runtime).read_bytes()
        peers = peers_beside(digits)
        peers_bytes = file_read(peers, runtime).read_bytes() if peers is not None else b""
        sequence_bytes = file_read(sequence, runtime).read_bytes() if sequence is not None else b""
        calibration_bytes = calibration_path(sequence).read_bytes() if sequence is not None else b""
        parts = [digits_bytes, check_bytes, peers_bytes, sequence_bytes, calibration_bytes, str(batch_size).encode(),
                 runtime.encode()]
        key = hashlib.sha256(b"\0".join(hashlib.sha256(part).digest() for part in parts)).hexdigest()
        return cls(digits_bytes, check_bytes, batch_size, key, peers_bytes, sequence_bytes, calibration_bytes, runtime)


def _workers_threads() -> int | None:
    """The worker's own thread count (None off a Dask worker, run directly)."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return None
    return max(1, int(getattr(worker, "nthreads", 1)))


def _use_the_workers_threads(runtime: str) -> None:
    """Keep OpenCV and TensorFlow to the worker's own thread count, as Dask expects of a
    task (its nanny does the same for OpenMP and BLAS; ONNX Runtime is given it when its
    sessions open). Left alone, each would start a thread per core in every worker, and
    workers sharing a machine would fight over cores."""
    import cv2

    threads = _workers_threads()
    if threads is None:
        return  # not on a Dask worker (run directly): nothing to share out
    cv2.setNumThreads(threads)
    if runtime == "keras" and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with captured_native_stderr():  # TensorFlow's start-up notes, as when the model loads
            import tensorflow as tf
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            log.debug("TensorFlow had already started in this worker; its thread pools stay as they are")


def classifier_on_worker(models: ModelFiles) -> DigitClassifier:
    """The worker's loaded classifier for ``models``, loading it the first time."""
    if models.key not in _LOADED:
        if not _LOADED:
            # The Dask nanny sets MALLOC_TRIM_THRESHOLD_ to 64 KiB, which made reading 50%
            # slower here; malloc is set again before TensorFlow loads (see native_memory).
            keep_freed_memory()
            _use_the_workers_threads(models.runtime)
        runtime, threads = models.runtime, _workers_threads()
        # The runtimes load from files; once loaded, the models live in memory and the files can go.
        with tempfile.TemporaryDirectory(prefix="docproc-models-") as tmp:
            digits, check, sequence = (file_read(Path(tmp) / f"{name}.keras", runtime)
                                       for name in ("digits", "check", "sequence"))
            digits.write_bytes(models.digits)
            check.write_bytes(models.check)
            if models.peers:  # where load_classifier looks for them
                file_read(peers_path(digits), runtime).write_bytes(models.peers)
            classifier = load_classifier(digits, batch_size=models.batch_size, check=False, sequence=False,
                                         runtime=runtime, threads=threads)
            classifier.check = load_single_digit_check(check, runtime, threads)
            if models.sequence:
                sequence.write_bytes(models.sequence)
                calibration_path(sequence).write_bytes(models.calibration)
                classifier.sequence = load_sequence_reader(sequence, runtime=runtime, threads=threads)
        _LOADED[models.key] = classifier
    return _LOADED[models.key]


def read_files_on_worker(items: list[InputFile], options: RunOptions, models: ModelFiles) -> list[FileRows]:
    """Runs on a Dask worker: a few whole files, pages to rows, their crops classified
    together (a task per file would pay the classifier's per-call cost on every file)."""
    host = os.uname().nodename
    readable = [item for item in items if item.path.exists() or item.path.is_symlink()]
    # The timeout is the client's to report; the worker's thread cannot set an alarm.
    local_options = dataclasses.replace(options, file_timeout=None)
    done = {id(d.file): d for d in run_files(readable, classifier_on_worker(models), local_options)} if readable else {}
    missing = not_on_dask_worker(host)
    return [done.get(id(item)) or FileRows(item, [missing.row(item, options.template_name)], 0) for item in items]


def run_files_on_cluster(files: list[InputFile], options: RunOptions, scheduler: str, model_paths: list[Path],
                         batch_size: int, local_workers: int,
                         on_page: Callable[[InputFile, int], None] | None = None,
                         runtime: str = RUNTIME) -> Iterator[FileRows]:
    """Read ``files`` on the Dask cluster at ``scheduler`` (``local``: a cluster of
    ``local_workers`` processes on this machine); yield each file's rows in input order.
    ``model_paths`` are the digit model and the check; the shipped sequence reader goes
    with them where ``options`` read with it; ``runtime`` runs them on the workers."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ClusterError("--scheduler needs Dask: pip install 'docproc[dask]' (dask and distributed)") from exc
    if not log.isEnabledFor(logging.DEBUG):
        # Dask's own start-up and shutdown chatter is for -vv, not for a user's -v.
        logging.getLogger("distributed").setLevel(logging.WARNING)
    with ExitStack() as stack:
        try:
            if scheduler == "local":
                cluster: Any = stack.enter_context(LocalCluster(n_workers=local_workers, threads_per_worker=1,
                                                                processes=True, dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            else:
                client = stack.enter_context(Client(scheduler, timeout="10s"))
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address and that "
                               "`dask scheduler` runs there, or use --scheduler local") from exc
        yield from read_with_client(client, files, options, model_paths, batch_size, on_page, runtime)


def read_with_client(client: Any, files: list[InputFile], options: RunOptions, model_paths: list[Path],
                     batch_size: int, on_page: Callable[[InputFile, int], None] | None = None,
                     runtime: str = RUNTIME) -> Iterator[FileRows]:
    """Read ``files`` on the workers of a connected Dask ``client``; each file's rows in
    input order. ``model_paths`` are the digit model and the check; the shipped sequence
    reader goes with them where ``options`` read with it; ``runtime`` runs them."""
    from distributed import KilledWorker

    digits, check = model_paths
    sequence = SHIPPED_SEQUENCE if options.reads_lines else None
    threads = sum(client.nthreads().values()) or 1
    log.info("Dask cluster %s: %d workers, %d threads", client.scheduler.address, len(client.nthreads()), threads)
    # A key of its own (hash=False): another call scattering the same bytes must not share,
    # and on release drop, this one's copy.
    models = client.scatter(ModelFiles.read(digits, check, batch_size, sequence, runtime), broadcast=True, hash=False)
    chunks = [files[i:i + FILES_PER_TASK] for i in range(0, len(files), FILES_PER_TASK)]
    upcoming = iter(chunks)
    in_flight: deque[tuple[list[InputFile], Any]] = deque()

    def submit(chunk: list[InputFile]) -> Any:
        remote = [InputFile(item.path.absolute(), item.name) for item in chunk]
        return client.submit(read_files_on_worker, remote, options, models, pure=False)

    def top_up() -> None:
        # Two tasks per worker thread in flight: workers stay busy, the client's memory bounded.
        while len(in_flight) < 2 * threads and (chunk := next(upcoming, None)) is not None:
            in_flight.append((chunk, submit(chunk)))

    top_up()
    while in_flight:
        chunk, future = in_flight.popleft()
        try:
            outcomes = future.result()
        except KilledWorker:
            # Some file of the task killed its workers: each file alone shows which.
            outcomes = []
            for item in chunk:
                try:
                    outcomes.extend(submit([item]).result())
                except KilledWorker as exc:
                    outcomes.append(FileRows(item, [dask_workers_died(type(exc).__name__).row(item, options.template_name)], 0))
        top_up()
        for item, done in zip(chunk, outcomes):
            if on_page is not None:
                for number in range(1, done.pages + 1):
                    on_page(item, number)
            yield FileRows(item, done.rows, done.pages)
