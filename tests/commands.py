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
