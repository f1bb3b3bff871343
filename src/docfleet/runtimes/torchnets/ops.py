"""ONNX operations as torch functions, for the ops the PP-OCR and PP layout models use.

Each builder takes a node's attributes, the Python values of its *index inputs* (a Reshape's
shape, a Slice's starts, a Resize's scales: :data:`INDEX_INPUTS`) where those are constants,
and the model's opset, and returns a function of the node's remaining inputs (tensors), in
order. Data inputs (a Conv's weights, an Add's constant operand) are always passed at run time,
so weights live as module parameters and follow ``.to(device)`` and ``.half()``. Index inputs
that are computed at run time arrive as small CPU tensors (``Shape`` makes them on the host).
Convolutions and pooling, with ONNX's padding rules, are in :mod:`.ops_window`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from docfleet.runtimes.torchnets.ops_window import PadFn as PadFn
from docfleet.runtimes.torchnets.ops_window import (
    build_average_pool,
    build_conv,
    build_conv_transpose,
    build_global_average_pool,
    build_max_pool,
)

Builder = Callable[[dict[str, Any], list[Any], int], Callable[..., Any]]

#: Inputs read as Python values (shapes, axes, scales, bounds), by op.
INDEX_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Slice": (1, 2, 3, 4),
    "Resize": (1, 2, 3),
    "Split": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "ReduceMean": (1,),
    "Clip": (1, 2),
    "Pow": (1,),
}


def _ints(value: Any) -> list[int]:
    """A shape or index list from a constant's list or a host tensor."""
    return [int(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    flat = value if isinstance(value, list) else [value]
    while flat and isinstance(flat[0], list):
        flat = flat[0]
    if len(flat) != 1:
        raise NotImplementedError(f"expected a scalar, got {value!r}")
    return float(flat[0])


def _required(static: list[Any], index: int, op: str, what: str) -> Any:
    """A constant index input; computed ones are not supported for this op."""
    value = static[index] if index < len(static) else None
    if value is None:
        raise NotImplementedError(f"{op} with a computed {what} is not supported")
    return value


def _elementwise(fn_name: str) -> Builder:
    def build(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
        import torch

        return getattr(torch, fn_name)  # type: ignore[no-any-return]

    return build


def _functional(fn_name: str) -> Builder:
    def build(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
        import torch.nn.functional as F

        if fn_name == "gelu":  # ONNX Gelu (opset 20) also has the tanh approximation
            approximate = str(attrs.get("approximate", "none"))
            return lambda x: F.gelu(x, approximate=approximate)
        return getattr(F, fn_name)  # type: ignore[no-any-return]

    return build


def _div(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch

    def div(a: Any, b: Any) -> Any:  # ONNX truncates integer division; torch would not
        if a.is_floating_point() or b.is_floating_point():
            return a / b
        return torch.div(a, b, rounding_mode="trunc")

    return div


def _pow(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch

    exponent = _scalar(static[1])
    if exponent is None:
        return torch.pow
    return lambda x: torch.pow(x, exponent)


def _hard_sigmoid(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    return lambda x: (x * alpha + beta).clamp(0.0, 1.0)


def _clip(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    if opset < 11:
        low, high = attrs.get("min"), attrs.get("max")
    else:
        low, high = (_scalar(static[i]) if i < len(static) else None for i in (1, 2))
    return lambda x: x.clamp(low, high)


def _reduce_mean(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    axes = attrs.get("axes") if opset < 18 else (static[1] if len(static) > 1 else None)
    keep = bool(attrs.get("keepdims", 1))
    if axes is None:
        return lambda x: x.mean(dim=tuple(range(x.dim())), keepdim=keep)
    dims = tuple(_ints(axes))
    return lambda x: x.mean(dim=dims, keepdim=keep)


def _batch_norm(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch.nn.functional as F

    eps = float(attrs.get("epsilon", 1e-5))
    return lambda x, scale, bias, mean, var: F.batch_norm(
        x, mean, var, scale, bias, training=False, momentum=0.0, eps=eps
    )


def _softmax(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    axis = int(attrs.get("axis", 1 if opset < 13 else -1))
    if opset >= 13:
        return lambda x: x.softmax(axis)

    def softmax(x: Any) -> Any:  # before opset 13: over all dimensions from ``axis`` on
        a = axis % x.dim()
        if a == x.dim() - 1:
            return x.softmax(-1)
        return x.reshape(*x.shape[:a], -1).softmax(-1).reshape(x.shape)

    return softmax


def _transpose(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    perm = attrs.get("perm")
    if perm is None:
        return lambda x: x.permute(*reversed(range(x.dim())))
    order = list(perm)
    return lambda x: x.permute(order)


def _concat(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch

    axis = int(attrs["axis"])
    return lambda *xs: torch.cat(xs, axis)


def _split(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    axis = int(attrs.get("axis", 0))
    sizes = attrs.get("split") if opset < 13 else (static[1] if len(static) > 1 else None)
    if sizes is None:
        return lambda x: x.tensor_split(int(attrs["_outputs"]), axis)
    parts = _ints(sizes)
    return lambda x: x.split(parts, axis)


def _reshape(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    allow_zero = bool(attrs.get("allowzero", 0))

    def target(x: Any, shape: list[int]) -> list[int]:
        if allow_zero:
            return shape
        return [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]

    if static[1] is not None:
        fixed = _ints(static[1])
        if 0 not in fixed or allow_zero:
            return lambda x: x.reshape(fixed)
        return lambda x: x.reshape(target(x, fixed))
    return lambda x, shape: x.reshape(target(x, _ints(shape)))


def _shape(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch

    start, end = attrs.get("start", 0), attrs.get("end")
    return lambda x: torch.tensor(x.shape[start:end], dtype=torch.int64)


def _slice(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    if opset < 10:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes, steps = attrs.get("axes"), None
    else:
        starts = _ints(_required(static, 1, "Slice", "start"))
        ends = _ints(_required(static, 2, "Slice", "end"))
        axes = static[3] if len(static) > 3 else None
        steps = static[4] if len(static) > 4 else None
    axes = _ints(axes) if axes is not None else list(range(len(starts)))
    steps = _ints(steps) if steps is not None else [1] * len(starts)
    if any(s < 1 for s in steps):
        raise NotImplementedError("Slice with negative steps")

    def slice_(x: Any) -> Any:
        index = [slice(None)] * x.dim()
        for a, b, e, s in zip(axes, starts, ends, steps, strict=True):
            index[a] = slice(b, e, s)
        return x[tuple(index)]

    return slice_


def _squeeze(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    axes = attrs.get("axes") if opset < 13 else (static[1] if len(static) > 1 else None)
    if axes is None:
        return lambda x: x.squeeze()
    dims = tuple(_ints(axes))
    return lambda x: x.squeeze(dims)


def _unsqueeze(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    axes = attrs.get("axes") if opset < 13 else _required(static, 1, "Unsqueeze", "axes")
    dims = _ints(axes)

    def unsqueeze(x: Any) -> Any:
        rank = x.dim() + len(dims)
        for d in sorted(a % rank for a in dims):
            x = x.unsqueeze(d)
        return x

    return unsqueeze


#: ONNX tensor types by number, as Cast's ``to`` gives them.
_DTYPES = {1: "float32", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}


def _cast(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch

    to = int(attrs["to"])
    if to not in _DTYPES:
        raise NotImplementedError(f"Cast to ONNX type {to}")
    dtype = getattr(torch, _DTYPES[to])
    return lambda x: x.to(dtype)


def _resize(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch.nn.functional as F

    mode = attrs.get("mode", "nearest")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    if (mode, transform, attrs.get("nearest_mode", "round_prefer_floor")) != (
        "nearest", "asymmetric", "floor"
    ):  # fmt: skip
        raise NotImplementedError(f"Resize mode={mode} coordinates={transform}")
    scales = static[1] if opset < 11 else (static[2] if len(static) > 2 else None)
    sizes = static[3] if opset >= 11 and len(static) > 3 else None
    if opset >= 11 and len(static) > 3 and sizes is None:  # sizes computed from shapes
        return lambda x, computed: F.interpolate(x, size=_ints(computed)[2:], mode="nearest")
    if sizes:
        size = _ints(sizes)[2:]
        return lambda x: F.interpolate(x, size=size, mode="nearest")
    factors = [float(s) for s in _required([scales], 0, "Resize", "scale")]
    if factors[:2] != [1.0, 1.0]:
        raise NotImplementedError("Resize that scales the batch or channel dimension")
    return lambda x: F.interpolate(x, scale_factor=factors[2:], mode="nearest")


OPS: dict[str, Builder] = {
    "Add": _elementwise("add"),
    "Sub": _elementwise("sub"),
    "Mul": _elementwise("mul"),
    "Div": _div,
    "Pow": _pow,
    "Sqrt": _elementwise("sqrt"),
    "Erf": _elementwise("erf"),
    "Relu": _elementwise("relu"),
    "Sigmoid": _elementwise("sigmoid"),
    "MatMul": _elementwise("matmul"),
    "HardSigmoid": _hard_sigmoid,
    "Gelu": _functional("gelu"),
    "HardSwish": _functional("hardswish"),
    # not ONNX: what docfleet.runtimes.torchnets.fuse makes of x * sigmoid(x)
    "Silu": _functional("silu"),
    "Clip": _clip,
    "Conv": build_conv,
    "ConvTranspose": build_conv_transpose,
    "MaxPool": build_max_pool,
    "AveragePool": build_average_pool,
    "GlobalAveragePool": build_global_average_pool,
    "ReduceMean": _reduce_mean,
    "BatchNormalization": _batch_norm,
    "Softmax": _softmax,
    "Transpose": _transpose,
    "Concat": _concat,
    "Split": _split,
    "Reshape": _reshape,
    "Shape": _shape,
    "Slice": _slice,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Resize": _resize,
    "Cast": _cast,
}


def build_op(op: str, attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    """The torch function for one node; an op outside :data:`OPS` is named in the error."""
    builder = OPS.get(op)
    if builder is None:
        raise NotImplementedError(
            f"ONNX op {op} is not supported by docfleet.runtimes.torchnets; "
            f"supported: {', '.join(OPS)}"
        )
    return builder(attrs, static, opset)
