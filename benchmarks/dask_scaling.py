"""Throughput on a local Dask cluster of 1 and of 2 workers (`docproc run --scheduler local`).

    python -m benchmarks.dask_scaling [--cheques 100] [--copies 4] [--seed 6161]

Generates ``--cheques`` PNG cheques (MNIST test digits) and lays each out ``--copies``
times under other names, so the run is long enough to time without generating
thousands of pages. For each cluster size it starts a LocalCluster (one thread per
worker process), warms every worker up (models loaded, by reading a few files), then
times the reading of all files through the same code `--scheduler` uses, and prints
pages per second and the speed-up of 2 workers over 1. Writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.results_file import machine_line, write_section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cheques", type=int, default=100)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--seed", type=int, default=6161)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    from docproc.config import RunOptions
    from docproc.ingest.inputs import discover
    from docproc.layout.templates import load_template
    from docproc.recognize.model_files import SHIPPED_CHECK, default_model_path
    from docproc.run.cluster import FILES_PER_TASK, read_with_client
    from samples.pages import write_set

    logging.getLogger("distributed").setLevel(logging.WARNING)
    rates = {}
    with tempfile.TemporaryDirectory(prefix="docproc-dask-") as tmp:
        out = Path(tmp)
        write_set(out, cheques=args.cheques, forms=0, zips=0, seed=args.seed, formats=("png",))
        laid_out = out / "many"
        laid_out.mkdir()
        for copy in range(args.copies):
            for path in sorted((out / "scans" / "cheques").glob("*.png")):
                shutil.copy(path, laid_out / f"{copy}-{path.name}")
        files = discover([str(laid_out)])
        options = RunOptions(template=load_template(out / "templates" / "cheque.yaml"))
        models = [default_model_path(), SHIPPED_CHECK]
        outputs = {}
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                # Models loaded on every worker first: four tasks a worker.
                list(read_with_client(client, files[: FILES_PER_TASK * 4 * workers], options, models, 1024))
                started = time.perf_counter()
                done = list(read_with_client(client, files, options, models, 1024))
                seconds = time.perf_counter() - started
            pages = sum(d.pages for d in done)
            outputs[workers] = [row for d in done for row in d.rows]
            rates[workers] = pages / seconds
            print(f"{workers} worker(s): {pages} pages in {seconds:.1f} s, {rates[workers]:.1f} pages/s", flush=True)
        assert outputs[1] == outputs[2], "the rows differ between cluster sizes"
    verdict = f"2 workers read {rates[2] / rates[1]:.2f}x the pages per second of 1 (target: at least 1.7x)"
    print(verdict)
    if not args.no_write:
        body = "\n".join([
            "## Dask: 1 and 2 local workers (`python -m benchmarks.dask_scaling`)",
            "",
            f"{args.cheques} PNG cheques (seed {args.seed}) laid out {args.copies} times ({args.cheques * args.copies} "
            f"files), cheque template, a LocalCluster of worker processes with one thread each, models loaded "
            f"before timing; same rows for both sizes. Measured {dt.date.today().isoformat()} on: {machine_line()}.",
            "",
            "| workers | pages/s |",
            "|---:|---:|",
            *[f"| {n} | {rate:.1f} |" for n, rate in rates.items()],
            "",
            f"{verdict}.",
        ])
        print(f"written to {write_section('dask-scaling', body)}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
