"""The model contract: the same files (digit model and single-digit check) give the same
answers on TensorFlow and JAX.

The GPU machines have JAX and no TensorFlow, so this is what makes GPU runs trustworthy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from docproc.datasets import mnist

PREDICT_UNDER_JAX = """
import sys, numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from docproc.recognize.loading import load_classifier
from docproc.datasets import mnist
digits = mnist.load("test").images[:2000].astype(np.float32) / 255.0
classifier = load_classifier(runtime="keras")
np.save(sys.argv[1], classifier.predict(digits))
np.save(sys.argv[2], classifier.check.predict(digits))
"""


@pytest.mark.slow
def test_jax_backend_matches_tensorflow(mnist_test: mnist.Split, tmp_path: Path) -> None:
    from docproc.recognize.loading import load_classifier

    out, check_out = tmp_path / "jax.npy", tmp_path / "jax-check.npy"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", PREDICT_UNDER_JAX, str(out), str(check_out)], env=env,
                            capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    under_jax = np.load(out)
    digits = mnist_test.images[:2000].astype(np.float32) / 255.0
    on_tensorflow = load_classifier(runtime="keras", sequence=False)
    under_tf = on_tensorflow.predict(digits)
    assert np.array_equal(under_jax.argmax(axis=1), under_tf.argmax(axis=1))
    assert np.allclose(under_jax, under_tf, atol=1e-5)
    assert np.allclose(np.load(check_out), on_tensorflow.check.predict(digits), atol=1e-5)
