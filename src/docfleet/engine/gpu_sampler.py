"""GPU utilisation and memory sampled through NVML while a run works, for its stats.

A replica's own busy time says how long it held work; the GPU's utilisation says whether the
GPU was doing anything meanwhile (one OCR replica keeps a GPU 17-34% busy in published
measurements: the reason to run several per GPU). Sampling runs on a daemon thread, never
initialises CUDA, and is silently absent where NVML is not (CPU machines, CI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: reads one GPU: (utilisation percent, memory used bytes, memory total bytes)
Reader = Callable[[str], tuple[float, int, int]]


@dataclass
class GpuUsage:
    """One GPU over a run: mean and peak utilisation (0-1) and the most memory used."""

    device: str  # cuda:N as the run names it
    name: str
    utilisation_mean: float = 0.0
    utilisation_max: float = 0.0
    memory_used_max_bytes: int = 0
    memory_total_bytes: int = 0
    samples: int = 0

    def add(self, utilisation: float, used: int, total: int) -> None:
        n = self.samples
        self.utilisation_mean = (self.utilisation_mean * n + utilisation) / (n + 1)
        self.utilisation_max = max(self.utilisation_max, utilisation)
        self.memory_used_max_bytes = max(self.memory_used_max_bytes, used)
        self.memory_total_bytes = total
        self.samples = n + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GpuSampler:
    """Samples ``gpus`` (``cuda:N`` name -> NVML UUID and model name) every ``interval`` s."""

    def __init__(
        self,
        gpus: dict[str, tuple[str, str]],
        *,
        interval: float = 0.5,
        reader: Reader | None = None,
    ):
        self.interval = interval
        self.usage = {dev: GpuUsage(dev, name) for dev, (_uuid, name) in gpus.items()}
        self._uuids = {dev: uuid for dev, (uuid, _name) in gpus.items()}
        self._reader = reader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_devices(cls, devices: Sequence[str], **kwargs: Any) -> GpuSampler | None:
        """A sampler for the CUDA devices among ``devices`` (``cuda:N`` names, as visible under
        ``CUDA_VISIBLE_DEVICES``); ``None`` when there are none or NVML cannot see them."""
        wanted = sorted({d for d in devices if d.startswith("cuda")})
        if not wanted:
            return None
        from docfleet.engine.discovery import discover_gpus

        found = discover_gpus()
        if found.method != "nvml":
            return None
        by_index = {f"cuda:{g.index}": (g.uuid, g.name) for g in found.gpus}
        gpus = {d: by_index[d] for d in wanted if d in by_index}
        return cls(gpus, **kwargs) if gpus else None

    def start(self) -> None:
        if self._reader is None:
            self._reader = _nvml_reader()
        self._sample()  # one sample even for a run shorter than the interval
        self._thread = threading.Thread(target=self._loop, daemon=True, name="docfleet-gpu")
        self._thread.start()

    def stop(self) -> list[dict[str, Any]]:
        """Stop sampling; the usage of each GPU, as run.json holds it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return [u.to_dict() for u in self.usage.values()]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        assert self._reader is not None
        for dev, usage in self.usage.items():
            try:
                utilisation, used, total = self._reader(self._uuids[dev])
            except Exception:  # a GPU lost mid-run is the run's problem, not the sampler's
                continue
            usage.add(utilisation / 100.0, used, total)


def _nvml_reader() -> Reader:
    import pynvml

    pynvml.nvmlInit()
    handles: dict[str, Any] = {}

    def read(uuid: str) -> tuple[float, int, int]:
        handle = handles.get(uuid)
        if handle is None:
            handle = handles[uuid] = pynvml.nvmlDeviceGetHandleByUUID(uuid)
        rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        return float(rates.gpu), int(memory.used), int(memory.total)

    return read
