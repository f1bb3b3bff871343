"""benchmarks/quantize_ocr.py: the INT8 recogniser shipped is the one its README describes, the
GELU fusion computes what the five operators computed, and the squeeze-and-excitation
convolutions it leaves float are found from the graph."""

from __future__ import annotations

import hashlib
import re
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("rapidocr")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from onnx import TensorProto, helper  # noqa: E402
from quantize_ocr import OUT, fuse_gelu, prepare, squeeze_excite_convs  # noqa: E402


def test_the_shipped_model_is_the_one_its_readme_names() -> None:
    readme = (OUT.parent / "README.md").read_text()
    [named] = re.findall(r"`([0-9a-f]{64})`", readme)
    assert hashlib.sha256(OUT.read_bytes()).hexdigest() == named
    assert "Apache License" in (OUT.parent / "LICENSE").read_text()


def _gelu_graph() -> object:
    """y = 0.5 * (x * (1 + erf(x / sqrt 2))) followed by a ReLU, as exporters write it."""
    const = lambda name, value: helper.make_tensor(name, TensorProto.FLOAT, [], [value])  # noqa: E731
    nodes = [
        helper.make_node("Div", ["x", "sqrt2"], ["d"], name="div"),
        helper.make_node("Erf", ["d"], ["e"], name="erf"),
        helper.make_node("Add", ["e", "one"], ["a"], name="add"),
        helper.make_node("Mul", ["x", "a"], ["m"], name="mul"),
        helper.make_node("Mul", ["m", "half"], ["g"], name="half_mul"),
        helper.make_node("Relu", ["g"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "gelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
        [const("sqrt2", 2**0.5), const("one", 1.0), const("half", 0.5)],
    )  # fmt: skip
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def _run(model: object, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_gelu_fused_into_one_operator_computes_the_same() -> None:
    model = _gelu_graph()
    x = np.linspace(-4, 4, 16, dtype=np.float32).reshape(2, 8)
    before = _run(model, x)
    assert fuse_gelu(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Gelu", "Relu"]
    onnx.checker.check_model(model)
    np.testing.assert_allclose(_run(model, x), before, atol=1e-5)


def test_a_gelu_whose_steps_are_seen_elsewhere_is_left_alone() -> None:
    read = _gelu_graph()
    read.graph.node.append(helper.make_node("Neg", ["a"], ["n"], name="other_use"))
    shown = _gelu_graph()
    shown.graph.output.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 8]))
    for model in (read, shown):
        assert fuse_gelu(model) == 0
        assert "Erf" in [n.op_type for n in model.graph.node]


def test_squeeze_excite_convolutions_are_found_in_the_small_recogniser(tmp_path: Path) -> None:
    from docfleet.runtimes.ocr.models import model_files

    model = prepare(model_files("small").recogniser, tmp_path / "prepared.onnx")
    found = squeeze_excite_convs(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    shapes = {n.name: weights[n.input[1]] for n in convs}
    assert 0 < len(found) < len(convs) // 4
    # each block's squeeze (C -> C/4) and excitation (C/4 -> C), one after the other
    pairs = [(a, b) for a, b in pairwise(found)
             if shapes[a][:2] == shapes[b][1::-1] and shapes[a][0] * 4 == shapes[a][1]]  # fmt: skip
    assert len(pairs) >= 5
    # none of them slides over the line: 1x1, or one channel at a time
    assert all(shapes[n][2:] == [1, 1] or shapes[n][1] == 1 for n in found)
