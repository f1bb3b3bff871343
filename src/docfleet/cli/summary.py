"""The table printed at the end of a run: pages, speed, devices, failures by kind."""

from __future__ import annotations

import sys
from typing import Any

MAX_LISTED_FAILURES = 10


def print_summary(report: Any) -> None:
    """Print the run's summary to stderr (stdout stays free for data)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stderr, highlight=False)
    table = Table(title=f"docfleet run -> {report.out_dir}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("pages", f"{report.total} ({report.ok} ok, {report.failed} failed, "
                  f"{report.skipped} already done)")  # fmt: skip
    table.add_row("time", f"{report.wall_seconds:.1f} s ({report.pages_per_second:.2f} pages/s)")
    for dev in report.stats.per_device():
        table.add_row(
            f"  {dev.device} x{dev.replicas}",
            f"{dev.items} pages, {dev.items_per_second:.2f} pages/s, "
            f"utilisation {dev.utilisation:.0%}",
        )
    for kind, count in report.failures.most_common():
        table.add_row(f"  failed: {kind}", str(count))
    console.print(table)
    if report.failed_ids:
        shown = report.failed_ids[:MAX_LISTED_FAILURES]
        more = len(report.failed_ids) - len(shown)
        console.print("failed pages: " + ", ".join(shown) + (f" and {more} more" if more else ""))
        console.print(f'details: {report.out_dir / "pages.jsonl"} (status "error")')
