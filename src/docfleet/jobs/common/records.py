"""Output lines of results: a record for a success, an error record for a failure."""

from __future__ import annotations

from typing import Any

from docfleet.engine.results import Result
from docfleet.page.types import PageTask


def page_record(result: Result) -> dict[str, Any]:
    """The pages.jsonl line for one result: the page record, or an error record."""
    task: PageTask = result.item
    if result.ok:
        record = dict(result.value)
        record.update(status="ok", device=result.device, attempts=result.attempts)
        return record
    error = result.error
    return {
        **task.identity(),
        "status": "error",
        "error": {"type": error.type, "message": error.message, "stage": error.stage}
        if error
        else None,
        "device": result.device,
        "attempts": result.attempts,
    }
