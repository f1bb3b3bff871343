"""The body of every worker, thread or process: load the stages, then serve batches until told."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from docfleet.engine.devices import Device
from docfleet.engine.executors.messages import Batch, Done, LoadFailed, Ready, Skipped, Stop
from docfleet.engine.executors.runner import BatchRunner, Partial
from docfleet.engine.results import ErrorInfo
from docfleet.engine.stage import Stage


def serve(
    worker_id: int,
    stages: Sequence[Stage],
    device: Device,
    batch_limit: int,
    receive: Callable[[], Any],
    send: Callable[[Any], None],
    load_lock: AbstractContextManager[Any] | None = None,
    draining: Callable[[], bool] = lambda: False,
) -> None:
    """Load ``stages`` on ``device``, report ready, run each :class:`Batch` until :class:`Stop`.

    Once ``draining()`` (the run is stopping), batches not yet begun are answered with
    :class:`Skipped` instead of being run.
    """
    start = time.perf_counter()
    loaded: list[Stage] = []
    try:
        with load_lock or nullcontext():
            for stage in stages:
                stage.load(device)
                loaded.append(stage)
    except Exception as exc:
        failed = stages[len(loaded)].label
        _close(loaded)  # first: models still loading in the background end before the run does
        send(LoadFailed(worker_id, ErrorInfo.from_exception(exc, failed)))
        return
    send(Ready(worker_id, time.perf_counter() - start))
    runner = BatchRunner(stages, batch_limit)
    ahead = bool(getattr(stages[0], "runs_ahead", False)) and len(stages) > 1
    batches = _look_ahead(runner, receive, draining) if ahead else _plain(receive)
    rest = stages[1:] if ahead else stages
    try:
        for batch_id, partial in batches:
            if draining():
                send(Skipped(worker_id, batch_id))
                continue
            runner.advance(partial, rest)
            outcomes = partial.outcomes()
            send(Done(worker_id, batch_id, outcomes, partial.busy, runner.batch_limit))
    finally:
        _close(stages)


def _plain(receive: Callable[[], Any]) -> Iterator[tuple[int, Partial]]:
    """Batches as they arrive, until Stop."""
    while not isinstance(message := receive(), Stop):
        assert isinstance(message, Batch)
        yield message.batch_id, Partial(message.items)


def _look_ahead(
    runner: BatchRunner, receive: Callable[[], Any], draining: Callable[[], bool]
) -> Iterator[tuple[int, Partial]]:
    """Batches with the first stage already run on a helper thread, one batch ahead.

    A first stage that sets ``runs_ahead`` (CPU work such as rendering pages) then overlaps the
    later stages (model inference) of the previous batch, so the device does not wait on it.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            for batch_id, partial in _plain(receive):
                if not draining():  # a stopping run begins no page, not even its rendering
                    runner.advance(partial, runner.stages[:1])
                ready.put((batch_id, partial))
        except BaseException as exc:
            ready.put(exc)
            raise
        ready.put(None)

    threading.Thread(target=work, name="docfleet-ahead", daemon=True).start()
    while (entry := ready.get()) is not None:
        if isinstance(entry, BaseException):
            raise entry
        yield entry


def _close(stages: Sequence[Stage]) -> None:
    for stage in stages:
        try:
            stage.close()
        except Exception as exc:  # closing must not hide the run's outcome
            print(f"docfleet: closing stage {stage.label!r} failed: {exc}", file=sys.stderr)
