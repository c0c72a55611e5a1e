"""Write one benchmark's section of benchmarks/RESULTS.md, leaving the other sections alone."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nEach section is written by the script it names; do not edit figures by hand.\n"


def machine_line() -> str:
    """CPU model, usable cores, memory, OS and Python: the machine a figure was taken on."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kb = next(int(entry.split()[1]) for entry in meminfo if entry.startswith("MemTotal"))
        memory = f"{mem_kb / 1024 ** 2:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "?"
    return (f"{cpu}, {len(os.sched_getaffinity(0))} cores, {memory} RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; {library_versions()}")


# The libraries whose versions can move a figure: generated scans are drawn, blurred and
# compressed by OpenCV, numpy and Pillow, and read by ONNX Runtime (or TensorFlow and Keras).
LIBRARIES = ("numpy", "opencv-python-headless", "pillow", "tensorflow", "keras", "onnxruntime")


def library_versions() -> str:
    """The installed versions of LIBRARIES, e.g. "numpy 2.4.6, opencv-python-headless 4.14.0.94, ..."."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in LIBRARIES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def accelerator_line() -> str:
    """The accelerators the Keras backend computes on, e.g. "1x NVIDIA H100 80GB HBM3 (jax)",
    or "no accelerator: CPU only (tensorflow)". Imports the backend: call it from scripts
    that load the model anyway."""
    import keras

    backend = keras.backend.backend()
    names: list[str] = []
    if backend == "jax":
        import jax

        names = [device.device_kind for device in jax.devices() if device.platform != "cpu"]
    elif backend == "tensorflow":
        import tensorflow as tf

        names = [tf.config.experimental.get_device_details(device).get("device_name", device.name)
                 for device in tf.config.list_physical_devices("GPU")]
    elif backend == "torch":
        import torch

        names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    if not names:
        return f"no accelerator: CPU only ({backend})"
    counts = {name: names.count(name) for name in names}
    return ", ".join(f"{count}x {name}" for name, count in counts.items()) + f" ({backend})"


def commit_line() -> str:
    """The commit the code ran from, and whether the tree had changes beside it."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=RESULTS.parent.parent, capture_output=True, text=True, check=False,
                              timeout=30).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return "Code: not in a git checkout."
    # The benchmarks' own outputs (RESULTS.md, its plots) do not count as changes to the code.
    changed = git("status", "--porcelain", "--", "docproc", "benchmarks", "training", "samples",
                  ":(exclude)benchmarks/RESULTS.md", ":(exclude)benchmarks/*.png")
    return f"Code: commit {commit}" + (" with uncommitted changes." if changed else ".")


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the section delimited by ``<!-- name -->`` markers; the commit
    the figures came from is added at its end."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n\n{commit_line()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text if text.endswith("\n") else text + "\n")
    return RESULTS
