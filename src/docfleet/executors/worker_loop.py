"""The body of every worker, thread or process: load the stages, then serve batches until told."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from docfleet.devices import Device
from docfleet.executors.messages import Batch, Done, LoadFailed, Ready, Stop
from docfleet.executors.runner import BatchRunner
from docfleet.results import ErrorInfo
from docfleet.stage import Stage


def serve(
    worker_id: int,
    stages: Sequence[Stage],
    device: Device,
    batch_limit: int,
    receive: Callable[[], Any],
    send: Callable[[Any], None],
    load_lock: AbstractContextManager[Any] | None = None,
) -> None:
    """Load ``stages`` on ``device``, report ready, run each :class:`Batch` until :class:`Stop`."""
    start = time.perf_counter()
    loaded: list[Stage] = []
    try:
        with load_lock or nullcontext():
            for stage in stages:
                stage.load(device)
                loaded.append(stage)
    except Exception as exc:
        failed = stages[len(loaded)].label
        send(LoadFailed(worker_id, ErrorInfo.from_exception(exc, failed)))
        _close(loaded)
        return
    send(Ready(worker_id, time.perf_counter() - start))
    runner = BatchRunner(stages, batch_limit)
    try:
        while True:
            message = receive()
            if isinstance(message, Stop):
                break
            assert isinstance(message, Batch)
            began = time.perf_counter()
            outcomes = runner.run(message.items)
            busy = time.perf_counter() - began
            send(Done(worker_id, message.batch_id, outcomes, busy, runner.batch_limit))
    finally:
        _close(stages)


def _close(stages: Sequence[Stage]) -> None:
    for stage in stages:
        try:
            stage.close()
        except Exception as exc:  # closing must not hide the run's outcome
            print(f"docfleet: closing stage {stage.label!r} failed: {exc}", file=sys.stderr)
