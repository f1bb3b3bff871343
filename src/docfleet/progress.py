"""A progress bar with items/s and per-device counts (shown only on a terminal)."""

from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """Rich progress bar fed by the executor through :meth:`advance`."""

    def __init__(self, total: int | None, description: str = "items") -> None:
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
        speed = self._progress.tasks[0].speed
        if speed:
            self._progress.update(self._task, rate=f"{speed:,.1f} items/s")

    def close(self) -> None:
        self._progress.stop()


def progress_enabled(setting: bool | None) -> bool:
    """Explicit setting, else on when stderr is a terminal."""
    return setting if setting is not None else sys.stderr.isatty()
