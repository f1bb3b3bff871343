"""Worker slots: which device each replica runs on, what it sees there, and its CPU share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docfleet.engine.devices import Device, available_cores, cpu_share
from docfleet.engine.discovery import GpuDiscovery
from docfleet.engine.stats import WorkerStats

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


@dataclass
class Slot:
    """One replica's place: its device as users see it, as its own process sees it, its env."""

    number: int
    device: Device
    child_device: Device
    env: dict[str, str]
    stats: WorkerStats


def plan_slots(
    devices: Sequence[Device],
    *,
    replicas: int = 1,
    discovery: GpuDiscovery | None = None,
    cores: int | None = None,
    threads: int | None = None,
) -> list[Slot]:
    """One slot per listed device and replica, each with a fair share of the CPU cores.

    A process worker on ``cuda:N`` gets ``CUDA_VISIBLE_DEVICES`` naming that GPU alone, so the
    stage loads on ``cuda:0``; a CPU worker sees no GPU. Each worker's intra-op thread count is
    the cores divided by the number of workers (unless ``threads`` is given), so N workers do
    not oversubscribe the machine.
    """
    expanded = [d for d in devices for _ in range(replicas)]
    if threads is None:
        threads = cpu_share(len(expanded), cores if cores is not None else available_cores())
    gpus = {g.index: g for g in discovery.gpus} if discovery is not None else {}
    seen: dict[Device, int] = {}
    slots = []
    for number, device in enumerate(expanded):
        replica = seen.get(device, 0)
        seen[device] = replica + 1
        env = dict.fromkeys(THREAD_VARIABLES, str(threads))
        if device.kind == "cuda":
            gpu = gpus.get(device.index if device.index is not None else -1)
            env["CUDA_VISIBLE_DEVICES"] = (gpu.uuid or gpu.visible_id) if gpu else str(device.index)
            child = Device("cuda", 0)
        elif device.kind == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
            child = device
        else:
            child = device
        slots.append(
            Slot(
                number=number,
                device=device.with_slot(threads=threads, replica=replica),
                child_device=child.with_slot(threads=threads, replica=replica),
                env=env,
                stats=WorkerStats(device=str(device), replica=replica),
            )
        )
    return slots
