"""Export a Keras model to its ONNX twin, check the two agree, and record the twin in the card.

    python -m training.twins                       # every shipped model (and peers, where there are some)
    python -m training.twins path/to/model.keras   # one model of your own

Reading runs the twins on ONNX Runtime (docproc/recognize/networks.py): the install for
reading has no TensorFlow. The twin is written by Keras's own export (``model.export(...,
format="onnx")``, tf2onnx under the TensorFlow backend) beside the .keras file, with the
.keras file's SHA-256 and parameter count in its metadata, so a reader refuses a twin left
behind by a retrained model. Both are then run over MNIST test digits (the 28x28 models)
or lines written with them (the sequence reader), and the largest difference between their
probabilities and the share of equal argmaxes go into the card's ``twin`` section with the
twin's SHA-256. The training scripts call ``export_twin`` after each model they write.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from docproc.datasets import mnist  # noqa: E402
from docproc.glyphs.line_image import HEIGHT, fit_line  # noqa: E402
from docproc.recognize.agreement import FLOOR  # noqa: E402
from docproc.recognize.model_files import (  # noqa: E402
    SHIPPED_CHECK,
    SHIPPED_MODEL,
    SHIPPED_SEQUENCE,
    card_path,
    peers_path,
)
from docproc.recognize.networks import (  # noqa: E402
    AGREEMENT,
    EXPORTED_WITH,
    MEMBERS,
    PARAMETERS,
    SOURCE_SHA256,
    load_onnx,
    peer_members,
    twin_metadata,
    twin_path,
)
from docproc.recognize.sequence_reader import SequenceReader  # noqa: E402
from docproc.run.fingerprint import file_sha256  # noqa: E402

# The twins must agree with their Keras models this closely (the bound, and the
# test's: tests/test_twins.py).
TOLERANCE = 1e-4
# The decoder and the agreement weigh readings by the logs of probabilities down to
# agreement.FLOOR, where an absolute difference of 1e-8 can be a factor of a thousand: the
# twins must also agree this closely in the log of each probability above the floor.
LOG_FLOOR = FLOOR
LOG_TOLERANCE = 1e-3
PROBE_LINES = 512
PROBE_SEED = 20261203


# How many of the test digits are also probed cut in half: the pieces of a split, which
# the single-digit check scores far under 0.5, where the tails of its probability show.
PROBE_HALVES = 1000


def probe_crops() -> np.ndarray:
    """The MNIST test digits as the models take them, then the left and right halves of
    the first PROBE_HALVES (the other half blanked): (12000, 28, 28, 1) float32 in [0, 1]."""
    digits = mnist.load("test").images.astype(np.float32) / 255.0
    left, right = digits[:PROBE_HALVES].copy(), digits[:PROBE_HALVES].copy()
    left[:, :, 14:] = 0.0
    right[:, :, :14] = 0.0
    return np.concatenate([digits, left, right])[..., None]


def probe_lines(count: int = PROBE_LINES, seed: int = PROBE_SEED) -> list[np.ndarray]:
    """Lines of 1 to 12 MNIST test digits side by side (gaps from touching to wide), as
    docproc.glyphs.line_image lays them out: (32, W) float32 each."""
    images = mnist.load("test").images
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        digits = images[rng.integers(len(images), size=int(rng.integers(1, 13)))].astype(np.float32) / 255.0
        gaps = rng.integers(-6, 12, size=len(digits))
        width = int((28 + gaps).sum()) + 28
        ink = np.zeros((28, width), np.float32)
        x = 0
        for digit, gap in zip(digits, gaps):
            ink[:, x : x + 28] = np.maximum(ink[:, x : x + 28], digit)
            x += 28 + int(gap)
        columns = np.flatnonzero(ink.max(axis=0) > 0)
        lines.append(fit_line(ink[:, columns[0] : columns[-1] + 1]) if columns.size else fit_line(ink))
    return lines


def compare(keras_model: Any, twin: Any) -> dict[str, Any]:
    """How closely ``twin`` gives ``keras_model``'s probabilities on the probe inputs."""
    if tuple(keras_model.input_shape[1:]) == (28, 28, 1):
        crops = probe_crops()
        expected = np.concatenate([np.asarray(keras_model.predict_on_batch(crops[i : i + 500]))
                                   for i in range(0, len(crops), 500)])
        got = np.concatenate([twin.predict_on_batch(crops[i : i + 500]) for i in range(0, len(crops), 500)])
        probe = f"{len(crops) - 2 * PROBE_HALVES:,} MNIST test digits and {2 * PROBE_HALVES:,} halves of them"
        if expected.shape[1] == 1:  # a probability of one class: its argmax is the side of 0.5
            same = float(np.mean((expected[:, 0] >= 0.5) == (got[:, 0] >= 0.5)))
        else:
            same = float(np.mean(expected.argmax(axis=1) == got.argmax(axis=1)))
        difference = float(np.abs(expected - got).max())
        log_apart = log_difference(expected, got)
    else:
        lines = probe_lines()
        # Padded and batched as docproc reads them (by width bucket, SEQUENCE_ROWS a call).
        expected_lines = SequenceReader(keras_model, Path()).read(lines)
        got_lines = SequenceReader(twin, Path()).read(lines)
        probe = f"{len(lines)} lines of 1 to 12 MNIST test digits"
        same = float(np.mean(np.concatenate([e.argmax(axis=1) == g.argmax(axis=1)
                                             for e, g in zip(expected_lines, got_lines)])))
        difference = max(float(np.abs(e - g).max()) for e, g in zip(expected_lines, got_lines))
        log_apart = max(log_difference(e, g) for e, g in zip(expected_lines, got_lines))
    return {"probe": probe, "max_abs_difference": difference, "max_log_difference": log_apart,
            "argmax_agreement": same}


def log_difference(expected: np.ndarray, got: np.ndarray) -> float:
    """The largest difference of log(probability), each probability floored at LOG_FLOOR
    as the decoder floors it."""
    return float(np.abs(np.log(np.maximum(expected, LOG_FLOOR)) - np.log(np.maximum(got, LOG_FLOOR))).max())


def exact_sigmoids(graph: Any) -> None:
    """Write each Sigmoid node as 1 / (1 + exp(-x)). ONNX Runtime's own Sigmoid on the CPU
    is an approximation good to about 1e-7 in absolute terms that gives 0 below x = -17
    (1e-8 for Keras): the single-digit check's doubts, weighed in logs, came out a
    thousand times stronger than the Keras model's, and a real cheque was read otherwise.
    Its Exp is exact to float32 across the range."""
    from onnx import helper, numpy_helper

    one = "docproc_one"
    rewritten = []
    for node in graph.node:
        if node.op_type != "Sigmoid":
            rewritten.append(node)
            continue
        (x,), (y,) = node.input, node.output
        rewritten += [helper.make_node("Neg", [x], [f"{y}_negated"]),
                      helper.make_node("Exp", [f"{y}_negated"], [f"{y}_exp"]),
                      helper.make_node("Add", [f"{y}_exp", one], [f"{y}_denominator"]),
                      helper.make_node("Reciprocal", [f"{y}_denominator"], [y])]
    if len(rewritten) != len(graph.node):
        graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), one))
        del graph.node[:]
        graph.node.extend(rewritten)


def canonical_names(graph: Any) -> None:
    """Rename the graph's nodes, inner tensors and symbolic sizes by their place in it
    (inputs and outputs keep their names), order its constants by those names and drop
    the graph's doc string.
    tf2onnx numbers what it makes with counters of the process and lists constants in an
    order of its own, so two exports of one model differed in these alone; with this, the
    same model gives the same twin, byte for byte, and the ledger's fingerprint stays."""
    # tf2onnx writes the name of the TensorFlow function it converted, numbered by the process.
    graph.doc_string = ""
    kept = {value.name for value in (*graph.input, *graph.output)}
    names: dict[str, str] = {}

    def renamed(name: str) -> str:
        if not name or name in kept:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for index, node in enumerate(graph.node):
        if any(attribute.g.node or attribute.graphs for attribute in node.attribute):
            raise RuntimeError(f"{node.op_type} holds a subgraph, which canonical_names does not rename")
        node.name = f"n{index}"
        node.input[:] = [renamed(name) for name in node.input]
        node.output[:] = [renamed(name) for name in node.output]
    initializers = sorted(graph.initializer, key=lambda tensor: (tensor.name not in names, names.get(tensor.name, ""),
                                                                 tensor.SerializeToString()))
    copies = [type(tensor)() for tensor in initializers]
    for copy, tensor in zip(copies, initializers):
        copy.CopyFrom(tensor)
        copy.name = renamed(tensor.name)
    del graph.initializer[:]
    graph.initializer.extend(sorted(copies, key=lambda tensor: int(tensor.name[1:])))
    for value in graph.value_info:
        value.name = renamed(value.name)
    sizes: dict[str, str] = {}
    for value in (*graph.input, *graph.output, *graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = sizes.setdefault(dim.dim_param, f"size{len(sizes)}")


def export_twin(model_path: Path) -> Path:
    """Write ``model_path``'s ONNX twin beside it and check it against the Keras model;
    the twin's path. Its metadata holds the .keras file's SHA-256 and parameter count and
    the agreement measured (``compare``). Raises RuntimeError when the twin disagrees by
    more than TOLERANCE (LOG_TOLERANCE in logs) or on any argmax."""
    import keras
    import onnx
    import tf2onnx

    model_path = Path(model_path)
    model = keras.saving.load_model(model_path, compile=False)
    shape = tuple(model.input_shape)
    probe = np.zeros((1, HEIGHT, 64, 1) if shape[1:] == (HEIGHT, None, 1) else (1, *shape[1:]), np.float32)
    model.predict_on_batch(probe)  # Keras exports only a model that has been called
    with tempfile.TemporaryDirectory(prefix="docproc-twin-") as tmp:
        exported = Path(tmp) / "model.onnx"
        model.export(str(exported), format="onnx", verbose=False)
        graph = onnx.load(str(exported))
    exact_sigmoids(graph.graph)
    canonical_names(graph.graph)
    made_with = (f"keras {keras.__version__} model.export(format='onnx'), tf2onnx {tf2onnx.__version__}, "
                 f"onnx {onnx.__version__}")
    for key, value in ((SOURCE_SHA256, file_sha256(model_path)), (PARAMETERS, str(model.count_params())),
                       (MEMBERS, str(peer_members(model))), (EXPORTED_WITH, made_with)):
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    twin_file = twin_path(model_path)
    onnx.save(graph, str(twin_file))
    agreement = compare(model, load_onnx(model_path, ""))
    if (agreement["max_abs_difference"] > TOLERANCE or agreement["max_log_difference"] > LOG_TOLERANCE
            or agreement["argmax_agreement"] < 1.0):
        twin_file.unlink()
        raise RuntimeError(f"the ONNX export of {model_path} disagrees with it: {agreement}")
    entry = graph.metadata_props.add()
    entry.key, entry.value = AGREEMENT, json.dumps(agreement)
    onnx.save(graph, str(twin_file))
    print(f"{twin_file}: largest difference {agreement['max_abs_difference']:.2e} "
          f"({agreement['max_log_difference']:.2e} in logs), "
          f"argmax agreement {agreement['argmax_agreement']:.2%} on {agreement['probe']}", flush=True)
    return twin_file


def current_twin(model_path: Path) -> dict[str, Any]:
    """The card's ``twin`` section for ``model_path``: its twin's file, SHA-256, the .keras
    file it was exported from and how closely they agree. A twin that is missing or was
    exported from another version of the file is exported first."""
    model_path = Path(model_path)
    twin_file = twin_path(model_path)
    metadata = twin_metadata(twin_file) if twin_file.is_file() else {}
    if metadata.get(SOURCE_SHA256) != file_sha256(model_path) or AGREEMENT not in metadata:
        export_twin(model_path)
        metadata = twin_metadata(twin_file)
    return {
        "file": twin_file.name,
        "file_sha256": file_sha256(twin_file),
        "exported_from_sha256": metadata[SOURCE_SHA256],
        "exported_with": metadata.get(EXPORTED_WITH, "?"),
        "runtime": "onnxruntime (docproc --runtime onnx, the default)",
        "agreement": json.loads(metadata[AGREEMENT]),
    }


def record_in_card(model_path: Path) -> None:
    """Put ``current_twin`` into the model's card, where it has one."""
    card_file = card_path(Path(model_path))
    if card_file.is_file():
        card = json.loads(card_file.read_text())
        card["twin"] = current_twin(model_path)
        card_file.write_text(json.dumps(card, indent=2) + "\n")


def shipped_models() -> list[Path]:
    """The shipped Keras models: the digit model, its peers where they are, the check, the sequence reader."""
    peers = peers_path(SHIPPED_MODEL)
    return [SHIPPED_MODEL, *([peers] if peers.is_file() else []), SHIPPED_CHECK, SHIPPED_SEQUENCE]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, help="Keras model files (default: every shipped one)")
    args = parser.parse_args(argv)
    for path in args.models or shipped_models():
        export_twin(path)
        record_in_card(path)


if __name__ == "__main__":
    main()
