"""Run: the machinery that drives the stages over many files. One file's CPU stages
(prepare.py), batches across files (pipeline.py), worker processes (parts.py,
workers.py) or Dask (cluster.py), why a file stopped (failures.py), the job over its
ledger (job.py, plan.py, fingerprint.py, ledger.py), and locks, limits and memory
(run_lock.py, time_limit.py, native_memory.py), the counts (summary.py)."""
