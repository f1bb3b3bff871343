"""Shared fixtures. Tests run against real processes and threads; nothing is mocked."""

from __future__ import annotations

import pytest

from docfleet.engine.discovery import GpuDiscovery, GpuInfo


def fake_gpus(count: int, visible: str | None = None) -> GpuDiscovery:
    """A discovery result describing ``count`` GPUs: planner input, as the planner receives it."""
    gpus = tuple(
        GpuInfo(i, str(i), "Test GPU", f"GPU-{i:08d}", 80 * 2**30, 79 * 2**30) for i in range(count)
    )
    return GpuDiscovery(gpus=gpus, method="nvml", reason="", cuda_visible_devices=visible)


@pytest.fixture(params=["thread", "process"])
def workers(request: pytest.FixtureRequest) -> str:
    return request.param
