"""Runs one batch through a worker's fused stages, isolating bad items and backing off on OOM.

This is the part of a worker that is the same for threads and processes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from docfleet.engine.executors.messages import Outcome
from docfleet.engine.failures import is_out_of_memory, release_cached_memory
from docfleet.engine.results import ErrorInfo
from docfleet.engine.stage import Stage


class StageContractError(RuntimeError):
    """A stage returned a list of the wrong length for its batch."""


class Partial:
    """A batch part-way through the stages: values so far, errors, busy time."""

    def __init__(self, items: list[Any]) -> None:
        self.values: list[Any] = list(items)
        self.errors: list[ErrorInfo | None] = [None] * len(items)
        self.alive = list(range(len(items)))
        self.busy = 0.0

    def outcomes(self) -> list[Outcome]:
        share = self.busy / max(1, len(self.values))
        return [
            Outcome(error is None, value if error is None else None, error, share)
            for value, error in zip(self.values, self.errors, strict=True)
        ]


class BatchRunner:
    """Runs batches through ``stages`` in order; ``batch_limit`` shrinks on out-of-memory."""

    def __init__(self, stages: Sequence[Stage], batch_limit: int) -> None:
        self.stages = list(stages)
        self.batch_limit = max(1, batch_limit)

    def run(self, items: list[Any]) -> list[Outcome]:
        """One outcome per item, in order. Never raises for a failing item."""
        partial = Partial(items)
        self.advance(partial, self.stages)
        return partial.outcomes()

    def advance(self, partial: Partial, stages: Sequence[Stage]) -> None:
        """Run the items still alive in ``partial`` through ``stages``."""
        start = time.perf_counter()
        for stage in stages:
            if not partial.alive:
                break
            outs = self._call(stage, [partial.values[i] for i in partial.alive])
            still = []
            for i, (ok, out) in zip(partial.alive, outs, strict=True):
                if ok:
                    partial.values[i] = out
                    still.append(i)
                else:
                    partial.errors[i] = out
            partial.alive = still
        partial.busy += time.perf_counter() - start

    def _call(self, stage: Stage, batch: list[Any]) -> list[tuple[bool, Any]]:
        step = self.batch_limit
        if len(batch) > step:
            # a chunk that runs out of memory lowers the limit; later chunks split again
            return [
                r
                for k in range(0, len(batch), step)
                for r in self._call(stage, batch[k : k + step])
            ]
        try:
            outs = stage(batch)
            if not isinstance(outs, list) or len(outs) != len(batch):
                got = len(outs) if isinstance(outs, list) else type(outs).__name__
                raise StageContractError(
                    f"stage {stage.label!r} returned {got} for a batch of {len(batch)}; "
                    "__call__ must return a list of the same length"
                )
            return [(True, out) for out in outs]
        except Exception as exc:
            return self._recover(stage, batch, exc)

    def _recover(self, stage: Stage, batch: list[Any], exc: Exception) -> list[tuple[bool, Any]]:
        if is_out_of_memory(exc):
            release_cached_memory()
            if len(batch) == 1:
                info = ErrorInfo.from_exception(exc, stage.label)
                return [(False, ErrorInfo("OutOfMemory", info.message, info.stage, info.traceback))]
            self.batch_limit = max(1, min(self.batch_limit, len(batch) // 2))
            return self._call(stage, batch)
        if len(batch) == 1:
            return [(False, ErrorInfo.from_exception(exc, stage.label))]
        return [r for item in batch for r in self._call(stage, [item])]
