"""Small deterministic stages for engine tests, benchmarks and examples.

``MatMulStage`` is CPU-bound (a fixed-weight matrix product), ``SleepStage`` takes a set time
per item (optionally slower on one replica), ``IdentityStage`` costs nothing.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from docfleet.engine.devices import Device
from docfleet.engine.stage import Stage, StageOptions


class IdentityStage(Stage):
    """Returns its inputs unchanged: measures the engine's own cost per item."""

    name = "identity"
    preferred_batch_size = 256

    def __call__(self, batch: list[Any]) -> list[Any]:
        return list(batch)


class MatMulOptions(StageOptions):
    size: int = Field(256, ge=1, description="Width of the fixed square weight matrix.")
    rounds: int = Field(4, ge=1, description="Matrix products per item.")
    dtype: Literal["float32", "int64"] = Field(
        "float32", description="float32 uses BLAS; int64 is exact and batch-independent."
    )
    seed: int = Field(0, description="Seed of the fixed weights.")


class MatMulStage(Stage):
    """Maps an integer item to a number through ``rounds`` products with a fixed matrix."""

    name = "matmul"
    Options = MatMulOptions
    options: MatMulOptions
    preferred_batch_size = 32

    def load(self, device: Device) -> None:
        import numpy as np

        rng = np.random.default_rng(self.options.seed)
        if self.options.dtype == "int64":
            self._weights = rng.integers(-3, 4, size=(self.options.size,) * 2, dtype=np.int64)
        else:
            scale = 1.0 / self.options.size**0.5
            weights = rng.standard_normal((self.options.size,) * 2) * scale
            self._weights = weights.astype(np.float32)

    def __call__(self, batch: list[Any]) -> list[Any]:
        import numpy as np

        size = self.options.size
        rows = [np.random.default_rng(int(item)).integers(-2, 3, size=size) for item in batch]
        x = np.stack(rows).astype(self._weights.dtype)
        for _ in range(self.options.rounds):
            x = x @ self._weights
            x = x % 1009 if self.options.dtype == "int64" else np.tanh(x)
        return [int(v) if self.options.dtype == "int64" else float(v) for v in x.sum(axis=1)]


class SleepOptions(StageOptions):
    seconds: float = Field(0.01, ge=0, description="Time per item.")
    slow_replica: int | None = Field(None, description="Replica number that runs slower.")
    slow_factor: float = Field(3.0, ge=1, description="How much slower that replica is.")


class SleepStage(Stage):
    """Sleeps ``seconds`` per item (``slow_factor`` times longer on ``slow_replica``)."""

    name = "sleep"
    Options = SleepOptions
    options: SleepOptions
    preferred_batch_size = 1

    def load(self, device: Device) -> None:
        slow = self.options.slow_replica == device.replica
        self._per_item = self.options.seconds * (self.options.slow_factor if slow else 1.0)

    def __call__(self, batch: list[Any]) -> list[Any]:
        time.sleep(self._per_item * len(batch))
        return list(batch)
