"""Fault-injecting stages for engine tests: raise, die, segfault, hang or run out of memory."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import Any

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage, StageOptions


class FaultyOptions(StageOptions):
    raise_on: list[int] = Field(default_factory=list)
    kill_on: list[int] = Field(default_factory=list)
    segfault_on: list[int] = Field(default_factory=list)
    hang_on: list[int] = Field(default_factory=list)
    seconds: float = 0.0
    fail_load: bool = False


class FaultyStage(Stage):
    """Squares integers; misbehaves on the items it is told to."""

    name = "faulty"
    Options = FaultyOptions
    options: FaultyOptions

    def load(self, device: Device) -> None:
        if self.options.fail_load:
            raise RuntimeError("model file is missing")
        self.pid = os.getpid()

    def __call__(self, batch: list[Any]) -> list[Any]:
        opts = self.options
        for item in batch:
            if item in opts.kill_on:
                os.kill(os.getpid(), signal.SIGKILL)
            if item in opts.segfault_on:
                ctypes.string_at(0)
            if item in opts.hang_on:
                time.sleep(3600)
        if opts.seconds:
            time.sleep(opts.seconds * len(batch))
        for item in batch:
            if item in opts.raise_on:
                raise ValueError(f"bad item {item}")
        return [item * item for item in batch]


class MemoryHungryOptions(StageOptions):
    per_item_mb: int = 256
    fits: int = 2  # largest batch that fits under the address-space limit
    library: str = "numpy"


class MemoryHungryStage(Stage):
    """Allocates per_item_mb per item for real under an address-space cap set in load().

    Batches larger than ``fits`` fail with the library's own out-of-memory error (NumPy's
    MemoryError or torch's allocator RuntimeError). Only for process workers: the cap is
    process-wide.
    """

    name = "memory-hungry"
    Options = MemoryHungryOptions
    options: MemoryHungryOptions

    def load(self, device: Device) -> None:
        import resource

        import numpy  # noqa: F401 - imported before measuring the address space

        if self.options.library == "torch":
            import torch  # noqa: F401

        with open("/proc/self/status") as fh:
            vm_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:"))
        budget = (self.options.fits * self.options.per_item_mb + 128) * 2**20
        limit = vm_kb * 1024 + budget
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def __call__(self, batch: list[Any]) -> list[Any]:
        count = len(batch) * self.options.per_item_mb * 2**20 // 8
        if self.options.library == "torch":
            import torch

            block = torch.ones(count, dtype=torch.float64)
            total = float(block[:8].sum())
        else:
            import numpy as np

            block = np.ones(count, dtype=np.float64)
            total = float(block[:8].sum())
        del block
        return [item + total for item in batch]


class UnpicklableOutputStage(Stage):
    """Returns a lock (which cannot be pickled) for item 3 and the item for the others."""

    name = "unpicklable"

    def __call__(self, batch: list[Any]) -> list[Any]:
        import threading

        return [threading.Lock() if item == 3 else item for item in batch]


class WrongLengthStage(Stage):
    """Breaks the contract: returns one output fewer than its batch."""

    name = "wrong-length"

    def __call__(self, batch: list[Any]) -> list[Any]:
        return list(batch)[1:]


class AheadStage(Stage):
    """A first stage that runs ahead: tags items with its thread and time span; fails on 3."""

    name = "ahead"
    runs_ahead = True

    def __call__(self, batch: list[Any]) -> list[Any]:
        import threading

        if 3 in batch:
            raise ValueError("cannot prepare item 3")
        began = time.perf_counter()
        time.sleep(0.05)
        span = (began, time.perf_counter())
        return [(item, threading.current_thread().name, span) for item in batch]


class ModelStage(Stage):
    """A second stage standing in for inference: adds its own time span."""

    name = "model"

    def __call__(self, batch: list[Any]) -> list[Any]:
        began = time.perf_counter()
        time.sleep(0.05)
        span = (began, time.perf_counter())
        return [(item, thread, ahead_span, span) for item, thread, ahead_span in batch]


class PidFileOptions(StageOptions):
    pid_dir: str
    seconds: float = 0.02


class PidFileStage(Stage):
    """Writes its process id to ``pid_dir`` on load (so a test can kill it), then sleeps."""

    name = "pid-file"
    Options = PidFileOptions
    options: PidFileOptions

    def load(self, device: Device) -> None:
        from pathlib import Path

        Path(self.options.pid_dir, str(os.getpid())).touch()

    def __call__(self, batch: list[Any]) -> list[Any]:
        time.sleep(self.options.seconds * len(batch))
        return [item * 10 for item in batch]
