"""What a job did: the counts every job keeps, each output line counted one way, and its exit
code. A job's report extends :class:`JobReport` with its own counts (pages by text source,
tokens, bins), adding to :meth:`JobReport.count`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docfleet.engine.stats import RunStats

#: Exit codes: every item succeeded; some failed (their lines say why); stopped before every
#: item ran (run again to resume).
EXIT_OK, EXIT_FAILED, EXIT_STOPPED = 0, 1, 130


@dataclass
class JobReport:
    """Counts of the lines counted, kept from an earlier run, ok and failed; failures by kind;
    the wall time and the engine's per-device stats.

    >>> report = JobReport(Path("out"))
    >>> report.count({"id": "a", "status": "ok"})
    >>> report.count({"id": "b", "status": "error", "error": {"type": "Timeout"}})
    >>> (report.items, report.ok, report.failed, dict(report.failures), report.exit_code)
    (2, 1, 1, {'Timeout': 1}, 1)
    """

    output: Path
    items: int = 0  # lines counted (a job that counts kept lines counts them here too)
    ok: int = 0
    failed: int = 0
    kept: int = 0  # items an earlier run wrote, not done again
    failures: Counter[str] = field(default_factory=Counter)  # failed lines by error type
    wall_seconds: float = 0.0
    stats: RunStats = field(default_factory=RunStats)

    def count(self, line: dict[str, Any]) -> None:
        """Count one output line: ok, or failed by its error's type."""
        self.items += 1
        if line["status"] == "ok":
            self.ok += 1
            return
        self.failed += 1
        self.failures[failure_kind(line)] += 1

    @property
    def exit_code(self) -> int:
        """``EXIT_FAILED`` when any line counted failed, else ``EXIT_OK``."""
        return EXIT_FAILED if self.failed else EXIT_OK


def failure_kind(line: dict[str, Any]) -> str:
    """The error type of a failed line (``unknown`` when the line names none).

    >>> failure_kind({"error": {"type": "DocumentError"}}), failure_kind({"error": None})
    ('DocumentError', 'unknown')
    """
    return (line.get("error") or {}).get("type") or "unknown"
