"""Read an ONNX file into a :class:`GraphSpec`: initializers and Constant nodes become constants,
Identity nodes are dropped, attributes become plain Python values.

One rewrite makes fixed-batch models batchable: where the graph input's batch is fixed at 1
(the layout model: 1 x 3 x 800 x 608), a Reshape to a constant shape that starts with 1, of a
tensor whose first dimension shape inference says is 1, keeps the input's first dimension
instead (ONNX's ``0``). On one page nothing changes; several pages then go through at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docfleet.runtimes.torchnets.spec import GraphSpec, NodeSpec

ONNX_MISSING = (
    "converting ONNX models to PyTorch needs the onnx package; run: pip install onnx "
    '(or pip install "docfleet[torch]")'
)


def read_onnx(path: Path) -> GraphSpec:
    """The graph of the ONNX file at ``path`` as a spec (needs ``onnx`` and ``torch``)."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(ONNX_MISSING) from exc

    model = onnx.load(str(path))
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    constants: dict[str, Any] = {t.name: _tensor(t) for t in graph.initializer}
    alias: dict[str, str] = {}
    nodes: list[NodeSpec] = []
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise NotImplementedError(f"{path.name}: op {node.domain}.{node.op_type} is not ONNX")
        inputs = [alias.get(name, name) for name in node.input]
        attrs = {a.name: _attribute(a) for a in node.attribute}
        if node.op_type == "Identity":
            alias[node.output[0]] = inputs[0]
        elif node.op_type == "Constant":
            constants[node.output[0]] = _constant_value(attrs)
        else:
            nodes.append(NodeSpec(node.op_type, inputs, list(node.output), attrs, node.name))

    names = {t.name for t in graph.initializer}
    graph_inputs = [v for v in graph.input if v.name not in names]
    spec = GraphSpec(
        inputs=[v.name for v in graph_inputs],
        outputs=[alias.get(v.name, v.name) for v in graph.output],
        output_names=[v.name for v in graph.output],
        nodes=nodes,
        constants=constants,
        metadata={p.key: p.value for p in model.metadata_props},
        opset=opset,
        input_shapes=[_dims(v) for v in graph_inputs],
        output_shapes=[_dims(v) for v in graph.output],
    )
    if spec.input_shapes and spec.input_shapes[0][:1] == [1]:
        _free_fixed_batch(spec, model)
    return spec


def _free_fixed_batch(spec: GraphSpec, model: Any) -> None:
    """Constant Reshape targets ``[1, ...]`` of tensors whose first dimension is the batch of 1
    become ``[0, ...]`` (copy the input's first dimension)."""
    import onnx
    import torch

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # no shapes known: leave the model as it is (batch 1 only)
        return
    first_dim = {
        v.name: (v.type.tensor_type.shape.dim[0].dim_value or None)
        for v in inferred.graph.value_info
        if v.type.tensor_type.HasField("shape") and len(v.type.tensor_type.shape.dim)
    }
    for node in spec.nodes:
        if node.op != "Reshape" or node.inputs[1] not in spec.constants:
            continue
        target = spec.constants[node.inputs[1]]
        if target.numel() >= 2 and int(target[0]) == 1 and first_dim.get(node.inputs[0]) == 1:
            name = f"{node.inputs[1]}#batch"
            spec.constants[name] = torch.cat([torch.zeros_like(target[:1]), target[1:]])
            node.inputs[1] = name


def _dims(value: Any) -> list[int | str]:
    return [d.dim_value or d.dim_param or "?" for d in value.type.tensor_type.shape.dim]


def _tensor(proto: Any) -> Any:
    import numpy as np
    import torch
    from onnx import numpy_helper

    return torch.from_numpy(np.array(numpy_helper.to_array(proto)))


def _attribute(attr: Any) -> Any:
    """An attribute as a Python value: ints, floats, strings, lists of them, or a tensor."""
    import onnx

    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, onnx.TensorProto):
        return _tensor(value)
    if isinstance(value, list):
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in value]
    if isinstance(value, (int, float, str)):
        return value
    raise NotImplementedError(f"attribute {attr.name} of type {type(value).__name__}")


def _constant_value(attrs: dict[str, Any]) -> Any:
    """The tensor a Constant node holds, whichever attribute carries it."""
    import torch

    if "value" in attrs:
        return attrs["value"]
    for key, dtype in (("value_float", torch.float32), ("value_int", torch.int64)):
        if key in attrs:
            return torch.tensor(attrs[key], dtype=dtype)
    for key, dtype in (("value_floats", torch.float32), ("value_ints", torch.int64)):
        if key in attrs:
            return torch.tensor(list(attrs[key]), dtype=dtype)
    raise NotImplementedError(f"Constant node with attributes {sorted(attrs)}")
