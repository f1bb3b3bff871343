"""GPU discovery through NVML or ``nvidia-smi``, without initialising CUDA in this process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInfo:
    """One GPU visible to this process.

    ``index`` is the logical index (``cuda:<index>`` as PyTorch numbers devices under the current
    ``CUDA_VISIBLE_DEVICES``); ``visible_id`` is the value to put in a child's
    ``CUDA_VISIBLE_DEVICES`` so that the child sees exactly this GPU as ``cuda:0``.
    """

    index: int
    visible_id: str
    name: str
    uuid: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class GpuDiscovery:
    """What discovery found: the visible GPUs, which method found them, and why none if none."""

    gpus: tuple[GpuInfo, ...]
    method: str  # "nvml", "nvidia-smi" or "none"
    reason: str  # empty when GPUs were found, else why none are visible
    cuda_visible_devices: str | None  # the CUDA_VISIBLE_DEVICES value honoured, None if unset


def discover_gpus(environ: Mapping[str, str] | None = None) -> GpuDiscovery:
    """Find the GPUs visible under ``CUDA_VISIBLE_DEVICES`` (from ``environ``, default os.environ)."""
    raise NotImplementedError
