"""Convolutions and pooling: the ONNX ops that slide a window over an image, with ONNX's
padding rules (explicit, asymmetric, ``SAME_UPPER``/``SAME_LOWER``) turned into torch's.

The builders follow :data:`docfleet.runtimes.torchnets.ops.OPS`'s contract: a node's attributes,
its constant index inputs and the opset in, a function of its tensor inputs out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

PadFn = Callable[[Any], list[int]]  # an input's spatial size -> F.pad's (left, right, top, bottom)


def _same_pads(
    size: Any, kernel: list[int], strides: list[int], dilations: list[int], upper: bool
) -> list[int]:
    """F.pad's (left, right, top, bottom) for ONNX SAME_UPPER/SAME_LOWER on a 2-D input: the
    output is ceil(size / stride), the odd pixel of padding after (UPPER) or before."""
    pads: list[int] = []
    dims = zip(*(list(reversed(list(v))) for v in (size, kernel, strides, dilations)), strict=True)
    for n, k, s, d in dims:
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small, big = total // 2, total - total // 2
        pads += [small, big] if upper else [big, small]
    return pads


def _padding(attrs: dict[str, Any], kernel: list[int]) -> tuple[PadFn | None, list[int]]:
    """How a windowed op pads: a function giving F.pad's pads where the padding is asymmetric
    or depends on the input (else None), and the symmetric padding to give the op itself."""
    auto = attrs.get("auto_pad", "NOTSET")
    strides = list(attrs.get("strides", [1] * len(kernel)))
    dilations = list(attrs.get("dilations", [1] * len(kernel)))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        upper = auto == "SAME_UPPER"
        if all(s == 1 for s in strides):  # the pads do not depend on the input's size
            fixed = _same_pads([1] * len(kernel), kernel, strides, dilations, upper)
            return (lambda size: fixed), [0, 0]
        return (lambda size: _same_pads(size, kernel, strides, dilations, upper)), [0, 0]
    pads = list(attrs.get("pads", [0] * 2 * len(kernel))) if auto == "NOTSET" else []
    if not pads or not any(pads):
        return None, [0] * len(kernel)
    begin, end = pads[: len(kernel)], pads[len(kernel) :]
    if begin == end:
        return None, begin
    torch_pads = [p for b, e in zip(reversed(begin), reversed(end), strict=True) for p in (b, e)]
    return (lambda size: torch_pads), [0] * len(kernel)


def build_conv(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch.nn.functional as F

    kernel = list(attrs["kernel_shape"])
    if len(kernel) != 2:
        raise NotImplementedError(f"Conv with a {len(kernel)}-D kernel")
    pad, padding = _padding(attrs, kernel)
    stride = list(attrs.get("strides", [1, 1]))
    dilation = list(attrs.get("dilations", [1, 1]))
    groups = int(attrs.get("group", 1))

    def conv(x: Any, w: Any, b: Any = None) -> Any:
        if pad is not None:
            x = F.pad(x, pad(x.shape[2:]))
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    return conv


def build_conv_transpose(
    attrs: dict[str, Any], static: list[Any], opset: int
) -> Callable[..., Any]:
    import torch.nn.functional as F

    kernel = list(attrs["kernel_shape"])
    pads = list(attrs.get("pads", [0] * 2 * len(kernel)))
    if len(kernel) != 2 or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError("ConvTranspose other than 2-D with explicit pads")
    if "output_shape" in attrs or pads[:2] != pads[2:]:
        raise NotImplementedError("ConvTranspose with output_shape or asymmetric pads")
    stride = list(attrs.get("strides", [1, 1]))
    dilation = list(attrs.get("dilations", [1, 1]))
    out_pad = list(attrs.get("output_padding", [0, 0]))
    groups = int(attrs.get("group", 1))
    return lambda x, w, b=None: F.conv_transpose2d(
        x, w, b, stride, pads[:2], out_pad, groups, dilation
    )


def build_max_pool(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch.nn.functional as F

    kernel = list(attrs["kernel_shape"])
    if len(kernel) != 2 or int(attrs.get("storage_order", 0)):
        raise NotImplementedError("MaxPool other than 2-D, row-major")
    pad, padding = _padding(attrs, kernel)
    stride = list(attrs.get("strides", [1, 1]))
    dilation = list(attrs.get("dilations", [1, 1]))
    ceil = bool(attrs.get("ceil_mode", 0))

    def max_pool(x: Any) -> Any:
        if pad is not None:  # padding never wins a max
            x = F.pad(x, pad(x.shape[2:]), value=-math.inf)
        return F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil)

    return max_pool


def build_average_pool(attrs: dict[str, Any], static: list[Any], opset: int) -> Callable[..., Any]:
    import torch.nn.functional as F

    kernel = list(attrs["kernel_shape"])
    pad, padding = _padding(attrs, kernel)
    if len(kernel) != 2 or pad is not None:
        raise NotImplementedError("AveragePool other than 2-D with symmetric explicit pads")
    stride = list(attrs.get("strides", [1, 1]))
    ceil = bool(attrs.get("ceil_mode", 0))
    include = bool(attrs.get("count_include_pad", 0))
    return lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil, include)


def build_global_average_pool(
    attrs: dict[str, Any], static: list[Any], opset: int
) -> Callable[..., Any]:
    return lambda x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
