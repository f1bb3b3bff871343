"""Run statistics: per worker and per device items, busy time, utilisation and throughput."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class WorkerStats:
    """Counters of one replica slot, across the processes or threads that served it."""

    device: str
    replica: int
    items: int = 0
    failed: int = 0
    batches: int = 0
    busy_seconds: float = 0.0
    load_seconds: float = 0.0
    restarts: int = 0
    batch_limit: int = 0
    alive: bool = False


@dataclass
class DeviceStats:
    """Counters of one device, summed over its replicas."""

    device: str
    replicas: int
    items: int
    failed: int
    busy_seconds: float
    utilisation: float  # busy time / (wall time x replicas)
    items_per_second: float


@dataclass
class RunStats:
    """What a run did; live while it runs, final once its results are exhausted."""

    wall_seconds: float = 0.0
    startup_seconds: float = 0.0  # until every replica was loaded and ready
    items: int = 0
    ok: int = 0
    failed: int = 0
    not_run: int = 0
    workers: list[WorkerStats] = field(default_factory=list)
    gpus: list[dict[str, Any]] = field(default_factory=list)  # GpuUsage of each GPU, via NVML

    @property
    def items_per_second(self) -> float:
        return self.items / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def workers_alive(self) -> int:
        return sum(w.alive for w in self.workers)

    def per_device(self) -> list[DeviceStats]:
        """Counters grouped by device, in the order devices first appear."""
        groups: dict[str, list[WorkerStats]] = {}
        for worker in self.workers:
            groups.setdefault(worker.device, []).append(worker)
        wall = self.wall_seconds or 1e-9
        return [
            DeviceStats(
                device=name,
                replicas=len(ws),
                items=sum(w.items for w in ws),
                failed=sum(w.failed for w in ws),
                busy_seconds=sum(w.busy_seconds for w in ws),
                utilisation=min(1.0, sum(w.busy_seconds for w in ws) / (wall * len(ws))),
                items_per_second=sum(w.items for w in ws) / wall,
            )
            for name, ws in groups.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly figures: totals, per worker and per device."""
        data = asdict(self)
        data["items_per_second"] = self.items_per_second
        data["devices"] = [asdict(d) for d in self.per_device()]
        return data
