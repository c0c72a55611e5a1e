"""How long docproc takes to start and read a little, and how big the install for reading is.

    python -m benchmarks.startup [--repeats 5] [--cheques 40] [--no-install]

Whole processes, as cron starts them: `docproc run` on one generated cheque (MNIST test
digits, the cheque template; a new output and ledger each time, so the cheque is read),
then on ``--cheques`` of them, with the default runtime (the ONNX twins) and with
``--runtime keras`` (TensorFlow); `docproc --help` and `docproc template check`. The
median of ``--repeats`` runs after one warm-up (the page cache and Python's bytecode
warm, as on a machine that ran docproc before).

Then, unless ``--no-install``, the install for reading: a new virtual environment,
``pip install`` of this checkout without extras (its dependencies from the package index),
its size on disk and the time the install took, and whether TensorFlow came with it.
Writes the figures to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.results_file import machine_line, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"
ONE_CHEQUE_TARGET_S = 1.5
INSTALL_TARGET_MB = 600


def _quiet_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TF_")}


def timed(command: list[str], cwd: Path, repeats: int, fresh: Path | None = None) -> float:
    """The median wall time of ``command`` over ``repeats`` runs after one warm-up; with
    ``fresh``, that folder (the output and its ledger) is emptied before each run."""
    times = []
    for attempt in range(repeats + 1):
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir()
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_quiet_env(), timeout=600)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        if attempt:
            times.append(elapsed)
    return statistics.median(times)


def venv_megabytes(folder: Path) -> float:
    """The size on disk of a folder's files, in MB (10^6 bytes)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink()) / 1e6


def measure_install(work: Path) -> dict[str, object]:
    """A fresh venv with this checkout installed for reading (no extras); its size and time."""
    source = work / "source"
    shutil.copytree(ROOT / "docproc", source / "docproc", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    venv = work / "venv"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-cache-dir", str(source)],
                               capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    if installed.returncode != 0:
        raise SystemExit(f"pip install failed:\n{installed.stderr[-3000:]}")
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            check=True, timeout=120).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines()}
    sizes = {}
    site = next((venv / "lib").glob("python3*/site-packages"))
    for entry in site.iterdir():
        if entry.is_dir() and not entry.name.endswith((".dist-info", "__pycache__")):
            sizes[entry.name] = venv_megabytes(entry)
    return {"megabytes": venv_megabytes(venv), "seconds": seconds, "tensorflow": "tensorflow" in names,
            "keras": "keras" in names, "largest": sorted(sizes.items(), key=lambda kv: -kv[1])[:6],
            "docproc_bin": venv / "bin" / "docproc"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cheques", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7171)
    parser.add_argument("--no-install", action="store_true", help="skip the fresh install's size and time")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)

    from samples.pages import write_set

    with tempfile.TemporaryDirectory(prefix="docproc-startup-") as tmp:
        work = Path(tmp)
        write_set(work / "set", cheques=args.cheques, forms=0, zips=0, seed=args.seed, formats=("png",))
        cheques = sorted((work / "set" / "scans" / "cheques").iterdir())
        one = work / "one"
        one.mkdir()
        shutil.copy(cheques[0], one / cheques[0].name)
        template = str(work / "set" / "templates" / "cheque.yaml")
        out = work / "out"
        rows: list[tuple[str, float]] = []
        for runtime in ("onnx", "keras"):
            for label, folder in (("1 cheque", one), (f"{len(cheques)} cheques", cheques[0].parent)):
                seconds = timed([DOCPROC, "run", str(folder), "--template", template, "--runtime", runtime,
                                 "-o", str(out / "r.csv"), "-q"], work, args.repeats, fresh=out)
                rows.append((f"`docproc run` on {label}, --runtime {runtime}", seconds))
                print(f"{rows[-1][0]}: {seconds:.2f} s", flush=True)
        for label, command in (("`docproc --help`", [DOCPROC, "--help"]),
                               ("`docproc template check`", [DOCPROC, "template", "check", template])):
            rows.append((label, timed(command, work, args.repeats)))
            print(f"{label}: {rows[-1][1]:.2f} s", flush=True)
        install = None if args.no_install else measure_install(work / "install")
        if install is not None:
            print(f"install for reading: {install['megabytes']:.0f} MB in {install['seconds']:.0f} s, "
                  f"tensorflow {'in' if install['tensorflow'] else 'not in'} it; largest {install['largest']}",
                  flush=True)
            fresh_one = timed([str(install["docproc_bin"]), "run", str(one), "--template", template,
                               "-o", str(out / "r.csv"), "-q"], work, args.repeats, fresh=out)
            rows.append(("`docproc run` on 1 cheque, from the install for reading", fresh_one))
            print(f"{rows[-1][0]}: {fresh_one:.2f} s", flush=True)

    one_cheque = rows[0][1]
    lines = [
        "## Start-up and the install for reading (`python -m benchmarks.startup`)",
        "",
        f"Whole `docproc` processes on generated cheques (MNIST test digits, seed {args.seed}) with the cheque "
        f"template, each read into a new output and ledger; median of {args.repeats} runs after a warm-up. "
        f"Measured {dt.date.today().isoformat()} on: {machine_line()}.",
        "",
        "| command | seconds |",
        "|---|---:|",
        *[f"| {label} | {seconds:.2f} |" for label, seconds in rows],
        "",
        f"- One cheque with the default runtime: {one_cheque:.2f} s (target at most {ONE_CHEQUE_TARGET_S} s: "
        f"{'met' if one_cheque <= ONE_CHEQUE_TARGET_S else 'missed'}).",
    ]
    if install is not None:
        largest = ", ".join(f"{name} {size:.0f} MB" for name, size in install["largest"])  # type: ignore[union-attr]
        lines.append(
            f"- The install for reading (`pip install .` into a new virtual environment, no extras): "
            f"{install['megabytes']:.0f} MB on disk (target at most {INSTALL_TARGET_MB} MB: "
            f"{'met' if float(install['megabytes']) <= INSTALL_TARGET_MB else 'missed'}), {install['seconds']:.0f} s "  # type: ignore[arg-type]
            f"to install from the package index; TensorFlow {'in' if install['tensorflow'] else 'not in'} it, "
            f"Keras {'in' if install['keras'] else 'not in'} it. Largest packages: {largest}.")
    if not args.no_write:
        print(f"written to {write_section('startup', chr(10).join(lines))}")


if __name__ == "__main__":
    main()
