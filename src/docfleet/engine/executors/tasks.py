"""What the local executor keeps per item and per worker, and what becomes of the items a
worker had in hand when it died or overran its time."""

from __future__ import annotations

import signal
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from docfleet.engine.executors.slots import Slot
from docfleet.engine.executors.workers import ProcessWorker, ThreadWorker
from docfleet.engine.results import ErrorInfo


@dataclass
class Task:
    """An input item on its way through the engine."""

    index: int
    item: Any
    attempts: int = 0  # runs that ended without an outcome (worker died or timed out)
    solo: bool = False  # run alone: it shared a batch with a worker death or timeout


@dataclass
class WorkerState:
    """A live worker of a slot and the batches it holds, oldest (running) first."""

    slot: Slot
    worker_id: int
    handle: ThreadWorker | ProcessWorker
    ready: bool = False
    batches: OrderedDict[int, list[Task]] = field(default_factory=OrderedDict)
    head_started: float = 0.0  # when the oldest batch in hand started running


def lost_tasks(
    batches: OrderedDict[int, list[Task]], *, charge: bool, timed_out: bool, max_attempts: int
) -> tuple[list[Task], list[Task]]:
    """The tasks of a lost worker's batches: ``(back, final)``, those to run again in input
    order and those out of attempts. With ``charge``, the running batch (the first) is charged
    an attempt and its items run alone from then on; an item that overran alone is final.

    >>> batches = OrderedDict({0: [Task(0, "a"), Task(1, "b")], 1: [Task(2, "c")]})
    >>> back, final = lost_tasks(batches, charge=True, timed_out=False, max_attempts=3)
    >>> [(t.index, t.attempts, t.solo) for t in back], final
    ([(0, 1, True), (1, 1, True), (2, 0, False)], [])
    """
    back: list[Task] = []
    final: list[Task] = []
    for position, tasks in enumerate(batches.values()):
        ran = charge and position == 0
        for task in tasks:
            if ran:
                task.attempts += 1
                if task.attempts >= max_attempts or (timed_out and task.solo):
                    final.append(task)
                    continue
                task.solo = True
            back.append(task)
    back.sort(key=lambda t: t.index)
    return back, final


def lost_error(
    task: Task, device: str, *, timed_out: bool, exitcode: int | None, limit: float | None
) -> ErrorInfo:
    """The error of an item whose worker kept dying on it, or that overran ``limit`` alone."""
    if timed_out:
        return ErrorInfo("Timeout", f"ran longer than {limit:g} s on {device}; the worker was "
                         "replaced")  # fmt: skip
    return ErrorInfo(
        "WorkerDied",
        f"the worker on {device} {describe_exit(exitcode)} while running this item, "
        f"{task.attempts} times (retried alone after the first)",
    )


def describe_exit(exitcode: int | None) -> str:
    """How a worker ended, in words.

    >>> describe_exit(-9), describe_exit(3), describe_exit(None)
    ('was killed by SIGKILL', 'exited with code 3', 'stopped answering')
    """
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"
