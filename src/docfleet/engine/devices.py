"""Device values and device specs: ``auto``, ``cpu``, ``cuda``, ``cuda:0,cuda:2``, ``mps``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from docfleet.engine.discovery import GpuDiscovery, GpuInfo, discover_gpus

DeviceKind = Literal["cpu", "cuda", "mps"]
DeviceSpec = str | Sequence["str | Device"] | None


class DeviceError(ValueError):
    """A device spec names devices that this machine does not have, or is malformed."""


@dataclass(frozen=True)
class Device:
    """A device a replica runs on: ``cpu``, ``cuda:N`` or ``mps``.

    ``threads`` (the replica's share of CPU cores for intra-op parallelism, 0 when unset) and
    ``replica`` (which replica on this device) are facts about one worker's slot; they are not
    part of the device's identity and do not take part in equality.

    >>> Device.parse("cuda:1")
    Device('cuda:1')
    >>> str(Device.parse("cpu"))
    'cpu'
    """

    kind: DeviceKind
    index: int | None = None
    threads: int = field(default=0, compare=False)
    replica: int = field(default=0, compare=False)

    @classmethod
    def parse(cls, text: str) -> Device:
        """Parse one device name: ``cpu``, ``mps``, ``cuda:N`` or a bare GPU index ``N``."""
        name = text.strip().lower()
        if name in ("cpu", "mps"):
            return cls(name)  # type: ignore[arg-type]
        if name.isdigit():
            return cls("cuda", int(name))
        kind, sep, idx = name.partition(":")
        if kind == "cuda" and sep and idx.isdigit():
            return cls("cuda", int(idx))
        raise DeviceError(
            f"unknown device {text!r}; use auto, cpu, mps, cuda (all GPUs) or cuda:N, "
            "separated by commas (e.g. cuda:0,cuda:2)"
        )

    @property
    def is_gpu(self) -> bool:
        return self.kind != "cpu"

    def with_slot(self, *, threads: int, replica: int) -> Device:
        """The same device, annotated with one worker's thread budget and replica number."""
        return replace(self, threads=threads, replica=replica)

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}:{self.index}"

    def __repr__(self) -> str:
        return f"Device({str(self)!r})"


CPU = Device("cpu")


def _visible_text(found: GpuDiscovery) -> str:
    cvd = found.cuda_visible_devices
    env = "CUDA_VISIBLE_DEVICES unset" if cvd is None else f"CUDA_VISIBLE_DEVICES={cvd}"
    if not found.gpus:
        why = f"; {found.reason}" if found.reason else ""
        return f"no GPU is visible ({env}{why})"
    names = ", ".join(f"cuda:{g.index}" for g in found.gpus)
    return f"visible devices: {names} ({env})"


def parse_devices(
    spec: DeviceSpec = "auto",
    *,
    num_gpus: int | None = None,
    discovery: GpuDiscovery | None = None,
) -> list[Device]:
    """Turn a device spec into the list of devices to run replicas on.

    ``spec`` is ``"auto"`` (all GPUs, else CPU), ``"cpu"``, ``"mps"``, ``"cuda"`` (all GPUs), a
    comma-separated list such as ``"cuda:0,cuda:2"`` (a device listed twice runs two replicas),
    or a sequence of names or :class:`Device` values. ``num_gpus`` picks the first N visible GPUs
    (0 = all of them, and CPU when there are none). ``discovery`` defaults to probing this machine.

    >>> from docfleet.engine.discovery import GpuDiscovery
    >>> none = GpuDiscovery(gpus=(), method="none", reason="", cuda_visible_devices=None)
    >>> parse_devices("auto", discovery=none)
    [Device('cpu')]
    """
    items = _split(spec)
    needs_gpus = num_gpus is not None or any(i in ("auto", "cuda") or _is_cuda(i) for i in items)
    found = discovery if discovery is not None else (discover_gpus() if needs_gpus else None)
    gpus: tuple[GpuInfo, ...] = found.gpus if found is not None else ()

    if num_gpus is not None:
        if items not in ([], ["auto"], ["cuda"]):
            raise DeviceError("give either a device list or num_gpus, not both")
        return _by_count(num_gpus, found)

    devices: list[Device] = []
    for item in items or ["auto"]:
        if item == "auto":
            devices.extend(Device("cuda", g.index) for g in gpus)
            if not gpus:
                devices.append(CPU)
        elif item == "cuda":
            if not gpus:
                assert found is not None
                raise DeviceError(f"cuda was asked for but {_visible_text(found)}; use cpu")
            devices.extend(Device("cuda", g.index) for g in gpus)
        else:
            device = Device.parse(item)
            _check(device, gpus, found)
            devices.append(device)
    return devices


def _by_count(num_gpus: int, found: GpuDiscovery | None) -> list[Device]:
    assert found is not None
    if num_gpus < 0:
        raise DeviceError(f"num_gpus must be 0 (all) or a positive count, not {num_gpus}")
    if num_gpus == 0:
        return [Device("cuda", g.index) for g in found.gpus] or [CPU]
    if num_gpus > len(found.gpus):
        raise DeviceError(
            f"{num_gpus} GPUs were asked for but only {len(found.gpus)} can be used; "
            f"{_visible_text(found)}"
        )
    return [Device("cuda", g.index) for g in found.gpus[:num_gpus]]


def _check(device: Device, gpus: Sequence[GpuInfo], found: GpuDiscovery | None) -> None:
    if device.kind == "cuda":
        assert found is not None
        if device.index is None or device.index >= len(gpus):
            raise DeviceError(f"{device} is not available; {_visible_text(found)}")
    elif device.kind == "mps" and sys.platform != "darwin":
        raise DeviceError("mps is only available on Apple silicon macOS; use cpu or cuda")


def _is_cuda(item: str) -> bool:
    return item.startswith("cuda") or item.isdigit()


def _split(spec: DeviceSpec) -> list[str]:
    if spec is None:
        return []
    parts = spec.split(",") if isinstance(spec, str) else [str(s) for s in spec]
    items = [p.strip().lower() for p in parts if p.strip()]
    if not items and isinstance(spec, str) and spec.strip():
        raise DeviceError(f"empty device list {spec!r}")
    return items


def cpu_share(n_cpu_workers: int, cores: int | None = None) -> int:
    """Intra-op threads for each of ``n_cpu_workers`` CPU replicas so they do not oversubscribe."""
    total = cores if cores is not None else available_cores()
    return max(1, total // max(1, n_cpu_workers))


def available_cores() -> int:
    """CPU cores this process may use (affinity mask and cgroup quota honoured)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_cpu_limit() -> int | None:
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, int(int(quota) / int(period)))
