"""Messages between the dispatcher and its workers (threads or processes); all picklable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docfleet.engine.results import ErrorInfo


@dataclass(frozen=True)
class Batch:
    """Dispatcher -> worker: run these items through the pipeline."""

    batch_id: int
    items: list[Any]


@dataclass(frozen=True)
class Stop:
    """Dispatcher -> worker: finish the batch in hand, close the stages and exit."""


@dataclass(frozen=True)
class Drain:
    """Dispatcher -> worker: the run is stopping; begin no batch not begun, answer each with
    :class:`Skipped` (the batch in hand finishes)."""


@dataclass(frozen=True)
class Skipped:
    """Worker -> dispatcher: a batch not begun because the run is stopping."""

    worker_id: int
    batch_id: int


@dataclass(frozen=True)
class Outcome:
    """One item's outcome inside a worker: a value, or an error from one stage."""

    ok: bool
    value: Any = None
    error: ErrorInfo | None = None
    seconds: float = 0.0
    device: str = ""  # set where the executor cannot tell (Ray actors)
    attempts: int = 1
    trail: tuple[tuple[str, float], ...] = ()  # Ray stage groups: (group on actor, seconds)


@dataclass(frozen=True)
class Ready:
    """Worker -> dispatcher: stages loaded, send work."""

    worker_id: int
    load_seconds: float


@dataclass(frozen=True)
class LoadFailed:
    """Worker -> dispatcher: a stage could not be loaded on this worker's device."""

    worker_id: int
    error: ErrorInfo


@dataclass(frozen=True)
class Done:
    """Worker -> dispatcher: outcomes of a batch, in order, and the batch limit now in force."""

    worker_id: int
    batch_id: int
    outcomes: list[Outcome]
    busy_seconds: float
    batch_limit: int


@dataclass(frozen=True)
class Died:
    """Emitted on the dispatcher side when a worker process ends without being asked to."""

    worker_id: int
    exitcode: int | None


#: Yielded by an open-ended item source (a service's queue) that has nothing to hand out now:
#: the engine stops reading it, keeps running, and reads it again within a second (or at once
#: after ``ResultStream.wake()``). The run ends only when the source is exhausted.
NOTHING_YET = type("NothingYet", (), {"__repr__": lambda self: "NOTHING_YET"})()
