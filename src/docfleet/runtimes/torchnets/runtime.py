"""Devices, dtypes and host <-> device copies for the torch models.

Host arrays bound for a GPU go through pinned (page-locked) memory, so the copy is a DMA the
GPU runs on its own rather than a staged copy; results come back the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

DTYPES = ("float32", "float16", "bfloat16")
TORCH_MISSING = (
    "the torch models need PyTorch, which is not installed here; install the torch build for "
    'your machine (see https://pytorch.org), or run: pip install "docfleet[torch]"'
)


def import_torch() -> Any:
    """``torch``, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(TORCH_MISSING) from exc
    return torch


def resolve_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` as a torch device this machine has."""
    torch = import_torch()
    dev = torch.device(device)
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0:
            raise ValueError(f"{device} is not available: torch sees no CUDA device")
        if (dev.index or 0) >= count:
            names = ", ".join(f"cuda:{i}" for i in range(count))
            raise ValueError(f"{device} is not available; visible devices: {names}")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{device} is not available on this machine")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {device!r}; use cpu, cuda, cuda:N or mps")
    return dev  # type: ignore[no-any-return]


def resolve_dtype(dtype: str) -> torch.dtype:
    """One of :data:`DTYPES` as a torch dtype."""
    torch = import_torch()
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)  # type: ignore[no-any-return]


def to_device(array: np.ndarray, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    """``array`` on ``device`` (through pinned memory for a GPU), floats cast to ``dtype``."""
    import numpy as np

    torch = import_torch()
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        tensor = tensor.pin_memory().to(device, non_blocking=True)
    else:
        tensor = tensor.to(device)
    if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    return tensor


def to_host(tensor: torch.Tensor) -> np.ndarray:
    """``tensor`` as a NumPy array on the host; half-precision floats come back as float32."""
    torch = import_torch()
    if tensor.is_floating_point() and tensor.dtype != torch.float32:
        tensor = tensor.float()
    if tensor.device.type == "cuda":
        host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        host.copy_(tensor, non_blocking=True)
        torch.cuda.current_stream(tensor.device).synchronize()
        return host.numpy()  # type: ignore[no-any-return]
    return tensor.detach().cpu().numpy()  # type: ignore[no-any-return]
