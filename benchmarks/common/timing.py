"""Timing: one call, the median of repeated calls, rates after start-up, a work folder per run.

Rates follow one rule everywhere: ``pages_per_s`` is pages over the wall time measured around
the whole command or loop (start-up included); ``steady_pages_per_s`` leaves the start-up out.

>>> fig = {"wall_s": 10.0, "startup_s": 2.0}
>>> add_rates(fig, 8)["pages_per_s"], fig["steady_pages_per_s"]
(0.8, 1.0)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any, TypeVar

T = TypeVar("T")


def timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``fn(*args)`` and the seconds it took."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def median_seconds(fn: Callable[[], T], repeat: int) -> tuple[T, float]:
    """``fn()``'s result and its median seconds over ``repeat`` calls after a warm-up call."""
    result = fn()
    seconds = [timed(fn)[1] for _ in range(repeat)]
    return result, median(seconds)


def steady_seconds(stats: Any) -> float:
    """Seconds of an engine run after start-up (its workers loaded), from its ``stats``."""
    return max(1e-9, stats.wall_seconds - stats.startup_seconds)


def add_rates(fig: dict[str, Any], pages: int) -> dict[str, Any]:
    """Add ``pages`` and the rates its times give; returns ``fig``.

    ``wall_s`` (measured around the command or loop) gives ``pages_per_s``; ``run_wall_s``
    (docfleet's own run.json) gives ``run_pages_per_s``; with ``startup_s`` also
    ``steady_pages_per_s``, over run.json's time when there is one, else over ``wall_s``.
    """
    fig["pages"] = pages
    fig["pages_per_s"] = pages / fig["wall_s"]
    wall = fig.get("run_wall_s")
    if wall is not None:
        fig["run_pages_per_s"] = pages / wall
    if fig.get("startup_s") is not None:
        fig["steady_pages_per_s"] = pages / max(1e-9, (wall or fig["wall_s"]) - fig["startup_s"])
    return fig


def in_work_folder(prefix: str, keep: bool, measure: Callable[[Path], T]) -> T:
    """``measure(folder)`` in a fresh temporary folder, removed afterwards unless ``keep``."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return measure(work)
    finally:
        if keep:
            print(f"outputs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
