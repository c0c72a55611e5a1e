"""Running the installed ``docproc`` console script as a user runs it (for the end-to-end tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DOCPROC = shutil.which("docproc", path=str(Path(sys.executable).parent)) or "docproc"


def docproc(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``docproc ARGS`` and capture its output; no TensorFlow logging variables set,
    as on a user's machine."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    return subprocess.run([DOCPROC, *args], capture_output=True, text=True, env=base | (env or {}), timeout=600,
                          cwd=cwd)


# Refuses what only the extras bring (train: TensorFlow, Keras, JAX, the exporters; audit:
# pandas, scipy, matplotlib), as the default install lacks them, then runs docproc's command
# line with the arguments given; at exit it prints which of the heavy modules it loaded.
READING_INSTALL = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax", "tf2onnx", "onnx", "pandas", "scipy", "matplotlib"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
sys.meta_path.insert(0, Absent())
sys.argv = ["docproc", *sys.argv[1:]]
import atexit
atexit.register(lambda: print("loaded:", " ".join(sorted({m.split(".")[0] for m in sys.modules} & {"onnxruntime"})),
                              file=sys.stderr))
from docproc.cli import main
main()
"""


def docproc_reading_install(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``docproc ARGS`` as the default install (no extras) would: what the train and
    audit extras bring cannot be imported. Its stderr's last line says whether ONNX
    Runtime was loaded (``loaded: onnxruntime``, or ``loaded:``)."""
    return subprocess.run([sys.executable, "-c", READING_INSTALL, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)
