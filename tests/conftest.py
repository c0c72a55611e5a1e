"""Shared fixtures: MNIST (fetched and checksummed once), the shipped model, and the shipped
model with a bundle of peers beside it."""

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
    """The shipped models (the digit model, its check and the sequence reader, as the
    default --reader both needs them), loaded through the package's own loading code."""
    from docproc.recognize.loading import load_classifier

    return load_classifier(sequence=True)


@pytest.fixture(scope="session")
def peered_classifier(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The shipped model with a bundle of two peers beside it (random weights: peers that
    disagree with it, which is what the reading rules must cope with)."""
    import keras

    from docproc.recognize.loading import load_classifier
    from docproc.recognize.model_files import SHIPPED_MODEL, peers_path
    from tests.model_copies import copy_model
    from training.model import build_inference_model
    from training.peers import bundle

    folder = tmp_path_factory.mktemp("peered")
    model = copy_model(SHIPPED_MODEL, folder / "mine.keras")
    members = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        path = folder / f"member{seed}.keras"
        build_inference_model(temperature=3.0).save(path)
        members.append(path)
    bundle(members, peers_path(model))
    return load_classifier(model, sequence=True)


@pytest.fixture(scope="session")
def review_job(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The sample cheques read by ``docproc run`` with every field in review (tests/review_job.py)."""
    from tests.review_job import read_job

    return read_job(tmp_path_factory.mktemp("review-job"))
