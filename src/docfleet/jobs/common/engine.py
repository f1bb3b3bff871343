"""A job's settings as the engine's options: its users' engine settings, with what the job
itself knows given as data (:class:`JobEngine`): what its progress bar counts, how long one
item may run, what ``auto`` replicas and batch size mean for its models, and settings the job
chose itself (the devices a placement plan gave a model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docfleet.engine.devices import available_cores
from docfleet.engine.machine import meminfo
from docfleet.settings.engine import EngineOptions, EngineSettings


@dataclass(frozen=True)
class Machine:
    """The devices a run's settings choose on this machine, as ``auto`` sizes need them."""

    cpu_only: bool  # every device chosen is the CPU
    gpu_free_bytes: Sequence[int] = ()  # free memory of each GPU chosen (0: not known)

    @classmethod
    def of(cls, settings: EngineSettings) -> Machine:
        """The devices ``settings`` choose, found without initialising CUDA. Devices this
        machine lacks count as none: the engine reports them with the fix."""
        from docfleet.engine.devices import parse_devices
        from docfleet.engine.discovery import discover_gpus

        found = discover_gpus()
        try:
            chosen = parse_devices(settings.devices, num_gpus=settings.num_gpus, discovery=found)
        except ValueError:
            chosen = []
        free = {g.index: g.free_bytes for g in found.gpus}
        return cls(
            cpu_only=bool(chosen) and all(d.kind == "cpu" for d in chosen),
            gpu_free_bytes=[free.get(d.index or 0, 0) for d in chosen if d.kind == "cuda"],
        )


@dataclass(frozen=True)
class AutoSizes:
    """What ``auto`` replicas and batch size mean for a job's models: on CPUs one replica per
    core as far as memory allows, on GPUs as many as the least free GPU holds.

    >>> sizes = AutoSizes(cpu_replica_bytes=1 << 30, gpu_replica_bytes=2 << 30,
    ...                   max_gpu_replicas=4, cpu_batch_size=1, gpu_batch_size=8)
    >>> sizes.resolve({"replicas": "auto", "batch_size": "auto"}, Machine(False, [80 << 30]))
    {'replicas': 4, 'batch_size': 8}
    >>> sizes.resolve({"replicas": 2, "batch_size": "auto"}, Machine(False, [3 << 30]))
    {'batch_size': 8}
    """

    cpu_replica_bytes: int  # memory one CPU replica needs
    gpu_replica_bytes: int  # GPU memory one replica may take
    max_gpu_replicas: int  # replicas per GPU at most
    cpu_batch_size: int
    gpu_batch_size: int

    def resolve(self, settings: Mapping[str, Any], machine: Machine) -> dict[str, int]:
        """The numbers for those of ``replicas`` and ``batch_size`` that ``settings`` leave
        at ``auto``."""
        found = {}
        if settings.get("replicas") == "auto" and machine.cpu_only:
            found["replicas"] = self.cpu_replicas()
        elif settings.get("replicas") == "auto":
            found["replicas"] = self.gpu_replicas(machine.gpu_free_bytes)
        if settings.get("batch_size") == "auto":
            found["batch_size"] = self.cpu_batch_size if machine.cpu_only else self.gpu_batch_size
        return found

    def gpu_replicas(self, free_bytes: Sequence[int]) -> int:
        """Replicas per GPU: ``gpu_replica_bytes`` each in the least free GPU, 1 to
        ``max_gpu_replicas`` (1 when the free memory is not known).

        >>> sizes = AutoSizes(1 << 30, 2 << 30, 4, 1, 8)
        >>> sizes.gpu_replicas([80 << 30, 80 << 30]), sizes.gpu_replicas([3 << 30])
        (4, 1)
        >>> sizes.gpu_replicas([])
        1
        """
        known = [b for b in free_bytes if b > 0]
        if not known:
            return 1
        return max(1, min(self.max_gpu_replicas, min(known) // self.gpu_replica_bytes))

    def cpu_replicas(self) -> int:
        """One replica per usable core, as far as memory allows."""
        free = meminfo()[1]
        by_memory = max(1, free // self.cpu_replica_bytes) if free else available_cores()
        return max(1, min(available_cores(), by_memory))


@dataclass(frozen=True)
class JobEngine:
    """What a job adds to its users' engine settings (see the module's docstring).

    >>> from docfleet.settings.engine import EngineSettings
    >>> job = JobEngine(unit="records", chosen={"devices": "cpu", "workers": "thread"})
    >>> options = job.options(EngineSettings(devices="cuda"))
    >>> options.unit, options.devices, options.workers
    ('records', 'cpu', 'thread')
    """

    unit: str = "items"  # what the progress bar counts
    item_timeout: float | None = None  # seconds one item may run
    auto: AutoSizes | None = None  # None: ``auto`` batch sizes are the stages' own
    chosen: Mapping[str, Any] = field(default_factory=dict)  # engine settings the job set

    def options(self, settings: EngineSettings, machine: Machine | None = None) -> EngineOptions:
        """``settings`` as the engine's options, with this job's part on top; ``auto`` sizes
        are for ``machine`` (default: the devices ``settings`` choose here)."""
        values: dict[str, Any] = {"unit": self.unit, "item_timeout": self.item_timeout}
        if self.auto is not None:
            sized = {k: getattr(settings, k, None) for k in ("replicas", "batch_size")}
            if "auto" in sized.values():
                values.update(self.auto.resolve(sized, machine or Machine.of(settings)))
        return settings.engine_options(**{**values, **self.chosen})
