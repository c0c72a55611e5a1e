"""Shared fixtures: MNIST (fetched and checksummed once), the shipped model."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from docproc.datasets import mnist  # noqa: E402


@pytest.fixture(scope="session")
def mnist_test() -> mnist.Split:
    """The MNIST test split: the only digits tests may measure recognition on."""
    return mnist.load("test")


@pytest.fixture(scope="session")
def mnist_train() -> mnist.Split:
    """The MNIST training split, for training tests only."""
    return mnist.load("train")


@pytest.fixture(scope="session")
def shipped_classifier():
    """The shipped model, loaded through the package's own loading code."""
    from docproc.recognize.loading import load_classifier

    return load_classifier()
