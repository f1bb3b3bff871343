"""A model graph as plain data: what an ONNX file says, ready to build torch modules from.

A :class:`GraphSpec` holds nodes (op type, input and output value names, attributes), constant
tensors and the model's metadata. It contains only lists, dicts, strings, numbers and tensors, so
``torch.save`` writes it and ``torch.load(weights_only=True)`` reads it back without ``onnx``.

>>> node = NodeSpec("Relu", ["x"], ["y"], {})
>>> spec = GraphSpec(["x"], ["y"], ["y"], [node], {}, {}, 13)
>>> GraphSpec.from_dict(spec.to_dict()) == spec
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Bumped whenever the layout of a saved spec, or what the reader writes into it, changes.
FORMAT = 2


@dataclass
class NodeSpec:
    """One operation: ``op`` is the ONNX op type; ``inputs`` may hold ``""`` for an absent
    optional input."""

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    name: str = ""


@dataclass
class GraphSpec:
    """A graph in topological order. ``outputs`` are the value names the graph returns and
    ``output_names`` the names the ONNX file gives them (they differ where an Identity was
    dropped); ``constants`` maps value names to tensors; ``metadata`` is the file's
    ``metadata_props``; ``input_shapes`` and ``output_shapes`` are the declared shapes (ints,
    or strings for dynamic dimensions)."""

    inputs: list[str]
    outputs: list[str]
    output_names: list[str]
    nodes: list[NodeSpec]
    constants: dict[str, Any]
    metadata: dict[str, str]
    opset: int
    input_shapes: list[list[int | str]] = field(default_factory=list)
    output_shapes: list[list[int | str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The spec as nested builtins and tensors (what the on-disk cache holds)."""
        return {
            "format": FORMAT,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "output_names": list(self.output_names),
            "nodes": [[n.op, n.inputs, n.outputs, n.attrs, n.name] for n in self.nodes],
            "constants": dict(self.constants),
            "metadata": dict(self.metadata),
            "opset": self.opset,
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shapes": [list(s) for s in self.output_shapes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphSpec:
        """Rebuild a spec from :meth:`to_dict`'s output; a mismatched format raises ValueError."""
        if data.get("format") != FORMAT:
            raise ValueError(f"spec format {data.get('format')!r}, expected {FORMAT}")
        return cls(
            inputs=list(data["inputs"]),
            outputs=list(data["outputs"]),
            output_names=list(data["output_names"]),
            nodes=[NodeSpec(op, list(i), list(o), dict(a), n) for op, i, o, a, n in data["nodes"]],
            constants=dict(data["constants"]),
            metadata=dict(data["metadata"]),
            opset=int(data["opset"]),
            input_shapes=[list(s) for s in data["input_shapes"]],
            output_shapes=[list(s) for s in data["output_shapes"]],
        )
