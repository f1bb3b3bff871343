"""A progress bar with a rate and per-device counts (shown only on a terminal)."""

from __future__ import annotations

import sys
from typing import Any

RATE_AFTER_ITEMS = 5  # a rate is shown once this many are done ...
RATE_AFTER_SECONDS = 3.0  # ... and this long has passed


class ProgressBar:
    """Rich progress bar fed by the executor through :meth:`advance`."""

    def __init__(self, total: int | None, description: str = "items") -> None:
        self._unit = description
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._counts: dict[str, int] = {}
        self._failed = 0
        self._progress: Any = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[devices]}"),
            transient=False,
            refresh_per_second=4,
        )
        self._task = self._progress.add_task(description, total=total, rate="", devices="")
        self._progress.start()

    def advance(self, device: str, count: int, failed: int) -> None:
        self._counts[device] = self._counts.get(device, 0) + count
        self._failed += failed
        devices = "  ".join(f"{name} {n}" for name, n in self._counts.items())
        if self._failed:
            devices += f"  [red]failed {self._failed}[/red]"
        self._progress.update(self._task, advance=count, devices=devices)
        task = self._progress.tasks[0]
        elapsed = task.elapsed or 0.0
        if task.completed >= RATE_AFTER_ITEMS and elapsed >= RATE_AFTER_SECONDS:
            # the overall rate: the first items' instant rate (89/s in a 4-page run) is noise
            rate = task.completed / elapsed
            self._progress.update(self._task, rate=f"{rate:,.1f} {self._unit}/s")

    def close(self) -> None:
        self._progress.stop()


def progress_enabled(setting: bool | None) -> bool:
    """Explicit setting, else on when stderr is a terminal."""
    return setting if setting is not None else sys.stderr.isatty()
