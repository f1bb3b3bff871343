"""A :class:`GraphSpec` as a ``torch.nn.Module``: the graph's float constants are parameters, its
nodes a flat list of torch functions run in order.

Built once: constant subgraphs are evaluated, nodes that feed no output are dropped, every
value gets a slot in a list, and each step knows which slots die after it (so a page's
activations are freed as the network goes, as ONNX Runtime does). ``forward`` is then one loop
over the steps, with no lookups by name. Example::

    spec = GraphSpec(["x"], ["y"], ["y"], [NodeSpec("Add", ["x", "b"], ["y"], {})],
                     {"b": torch.ones(2)}, {}, 13)
    build_module(spec)(torch.zeros(2))  # (tensor([1., 1.]),)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from docfleet.runtimes.torchnets.ops import INDEX_INPUTS, build_op
from docfleet.runtimes.torchnets.spec import GraphSpec, NodeSpec

if TYPE_CHECKING:
    import torch

Step = tuple[Callable[..., Any], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
Pending = list[tuple[Callable[..., Any], list[str], list[str]]]  # (function, inputs, outputs)


def build_module(spec: GraphSpec) -> torch.nn.Module:
    """A module whose ``forward(*inputs)`` returns the graph's outputs as a tuple of tensors."""
    return _graph_module_class()(spec)  # type: ignore[no-any-return]


def _static_inputs(node: NodeSpec, constants: dict[str, Any]) -> list[Any]:
    """The node's index inputs that are constants, as Python values; None elsewhere."""
    positions = INDEX_INPUTS.get(node.op, ())
    return [
        constants[name].tolist() if i in positions and name in constants else None
        for i, name in enumerate(node.inputs)
    ]


def _live_nodes(spec: GraphSpec) -> list[NodeSpec]:
    """The nodes that contribute to an output, in order."""
    needed = set(spec.outputs)
    live: list[NodeSpec] = []
    for node in reversed(spec.nodes):
        if any(o in needed for o in node.outputs):
            live.append(node)
            needed.update(i for i in node.inputs if i)
    return live[::-1]


def _fold(spec: GraphSpec) -> tuple[dict[str, Any], dict[str, int], dict[str, int], Pending]:
    """Evaluate the graph's constant subgraphs and give every other value a slot: the constants
    (the graph's and the folded ones), the slots, the constants read at run time with their
    slots, and the nodes left to run."""
    import torch

    constants = dict(spec.constants)
    slots: dict[str, int] = {name: i for i, name in enumerate(spec.inputs)}
    used: dict[str, int] = {}  # constants read at run time, and their slots
    pending: Pending = []
    for node in _live_nodes(spec):
        static = _static_inputs(node, constants)
        attrs = {**node.attrs, "_outputs": len(node.outputs)}
        fn = build_op(node.op, attrs, static, spec.opset)
        args = [n for n, s in zip(node.inputs, static, strict=True) if n and s is None]
        if all(a in constants for a in args):  # a constant subgraph: evaluate it now
            with torch.inference_mode():
                out = fn(*(constants[a] for a in args))
            outs = out if len(node.outputs) > 1 else (out,)
            constants.update(zip(node.outputs, outs, strict=True))
            continue
        for a in args:
            if a in constants and a not in used:
                used[a] = slots[a] = len(slots)
            elif a not in slots:
                raise ValueError(f"{node.op} node {node.name!r} reads unknown {a!r}")
        for o in node.outputs:
            slots[o] = len(slots)
        pending.append((fn, args, node.outputs))
    return constants, slots, used, pending


def _output_slots(
    spec: GraphSpec, slots: dict[str, int], constants: dict[str, Any]
) -> tuple[list[int], dict[int, Any]]:
    """Each output's slot, -1 for an output the graph computes from constants alone, and those
    outputs' values by position."""
    output_slots: list[int] = []
    output_constants: dict[int, Any] = {}
    for i, name in enumerate(spec.outputs):
        if name in slots:
            output_slots.append(slots[name])
        else:
            output_slots.append(-1)
            output_constants[i] = constants[name]
    return output_slots, output_constants


def _plan(pending: Pending, slots: dict[str, int], keep: set[int]) -> list[Step]:
    """Steps with, for each, the slots to clear once it has run (all but those in ``keep``)."""
    last: dict[int, int] = {}
    for k, (_fn, args, outs) in enumerate(pending):
        for name in (*args, *outs):
            last[slots[name]] = k
    free: list[list[int]] = [[] for _ in pending]
    for slot, k in last.items():
        if slot not in keep:
            free[k].append(slot)
    return [
        (fn, tuple(slots[a] for a in args), tuple(slots[o] for o in outs), tuple(f))
        for (fn, args, outs), f in zip(pending, free, strict=True)
    ]


@functools.cache
def _graph_module_class() -> type:
    """The module class, defined on first use so that importing this file needs no torch."""
    import torch

    class OnnxGraph(torch.nn.Module):
        """An ONNX graph run by torch; see :func:`build_module`."""

        def __init__(self, spec: GraphSpec):
            super().__init__()
            self._input_slots = tuple(range(len(spec.inputs)))
            constants, slots, used, pending = _fold(spec)
            # float constants become parameters (they follow .to() and .half()); integer ones are
            # shapes and indices, and stay on the host as Shape's outputs do
            floats = [n for n in used if constants[n].is_floating_point()]
            self.constant_names = floats
            self.consts = torch.nn.ParameterList(
                torch.nn.Parameter(constants[n].clone(), requires_grad=False) for n in floats
            )
            self._param_slots = tuple(slots[n] for n in floats)
            self._host = tuple((slots[n], constants[n]) for n in used if n not in floats)
            self._output_slots, self._output_constants = _output_slots(spec, slots, constants)
            keep = set(self._output_slots) | set(self._param_slots) | {s for s, _ in self._host}
            self._steps = _plan(pending, slots, keep)
            self._size = len(slots)

        def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            env: list[Any] = [None] * self._size
            for slot, value in zip(self._input_slots, inputs, strict=True):
                env[slot] = value
            for slot, param in zip(self._param_slots, self.consts, strict=True):
                env[slot] = param
            for slot, host in self._host:
                env[slot] = host
            for fn, args, outs, free in self._steps:
                result = fn(*[env[a] for a in args])
                if len(outs) == 1:
                    env[outs[0]] = result
                else:
                    for slot, value in zip(outs, result, strict=True):
                        env[slot] = value
                for slot in free:
                    env[slot] = None
            return tuple(
                env[s] if s >= 0 else self._output_constants[i]
                for i, s in enumerate(self._output_slots)
            )

        def __repr__(self) -> str:  # not the default's one line per parameter
            values = sum(p.numel() for p in self.consts)
            return (
                f"OnnxGraph(steps={len(self._steps)}, parameters={len(self.consts)} ({values:,}))"
            )

    return OnnxGraph
