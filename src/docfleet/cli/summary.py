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
    table = Table(title=f"docfleet run -> {report.output}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("pages", f"{report.total} ({report.ok} ok, {report.failed} failed in this run)")
    if report.kept:
        table.add_row("  kept from before", f"{report.kept} (--no-resume redoes them)")
    if report.changed_documents:
        table.add_row("  redone", f"{len(report.changed_documents)} documents changed since")
    if report.retried:
        table.add_row("  retried", f"{report.retried} pages that had failed")
    if report.not_run:
        table.add_row("  not run", f"{report.not_run} (stopped; run again to do them)")
    if report.skipped:
        table.add_row("skipped files", f"{len(report.skipped)} (no documents; see run.json)")
    if report.text_sources:
        table.add_row("text from", text_sources(report.text_sources, report.ocr_models))
    done = report.ok + report.failed
    rate = f" ({report.pages_per_second:.2f} pages/s)" if done else ""
    table.add_row("time", f"{report.wall_seconds:.1f} s{rate}")
    for dev in report.stats.per_device():
        table.add_row(
            f"  {dev.device} x{dev.replicas}",
            f"{dev.items} pages, {dev.items_per_second:.2f} pages/s, "
            f"utilisation {dev.utilisation:.0%}",
        )
    for gpu in report.stats.gpus:
        table.add_row(f"  {gpu['device']} GPU", gpu_line(gpu))
    for kind, count in report.failures.most_common():
        table.add_row(f"  failed: {kind}", str(count))
    console.print(table)
    if report.failed_ids:
        shown = report.failed_ids[:MAX_LISTED_FAILURES]
        more = len(report.failed_ids) - len(shown)
        console.print("failed pages: " + ", ".join(shown) + (f" and {more} more" if more else ""))
        console.print(f'details: {report.output / "pages.jsonl"} (status "error")')


def text_sources(sources: Any, models: Any) -> str:
    """Where this run's pages took their text from, and the OCR models that read them.

    >>> text_sources({"text-layer": 12, "ocr": 30, "blank": 2}, {"cascade on onnxruntime": 30})
    'OCR 30 (cascade on onnxruntime), text layer 12, blank 2'
    """
    names = {"ocr": "OCR", "text-layer": "text layer"}
    shown = []
    for source, count in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0])):
        cell = f"{names.get(source, source)} {count}"
        if source == "ocr" and models:
            cell += " (" + ", ".join(f"{m}" + (f": {n}" if len(models) > 1 else "")
                                     for m, n in models.items()) + ")"  # fmt: skip
        shown.append(cell)
    return ", ".join(shown)


def gpu_line(gpu: dict[str, Any]) -> str:
    """``busy 63% (peak 98%), memory peak 3.1 of 80.0 GiB``: one GPU's sampled usage.

    >>> gpu_line({"utilisation_mean": 0.63, "utilisation_max": 0.98,
    ...           "memory_used_max_bytes": 3 * 2**30, "memory_total_bytes": 80 * 2**30})
    'busy 63% (peak 98%), memory peak 3.0 of 80.0 GiB'
    """
    gib = 2**30
    return (
        f"busy {gpu['utilisation_mean']:.0%} (peak {gpu['utilisation_max']:.0%}), memory peak "
        f"{gpu['memory_used_max_bytes'] / gib:.1f} of {gpu['memory_total_bytes'] / gib:.1f} GiB"
    )
