"""A job of ``docfleet serve`` as stored and as the API shows it.

A job's ``status`` is ``queued`` until a worker takes its first page, ``running`` until its
last record is written, then ``done``; or ``failed`` (the engine stopped) or ``cancelled``. A
done job with failed pages is **partial**: ``status`` stays ``done`` (every page ran, so clients
that wait for ``done`` keep working) and ``partial`` is true, with ``pages.failed`` and
``failures`` saying how many and of which kinds.

>>> job = Job("0123456789abcdef", "done", 0.0, 1.0, 2.0, {}, [], 3, 3, 1, {"unreadable": 1})
>>> job.partial, job.to_dict()["pages"]
(True, {'total': 3, 'done': 3, 'failed': 1})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
ENDED_STATES = ("done", "failed", "cancelled")


@dataclass
class JobFile:
    """One upload of a job, under its safe name in ``<job_dir>/inputs/``."""

    name: str
    path: Path
    pages: int
    error: str = ""


@dataclass
class Job:
    """A job as stored; ``pages_total`` counts one record per page, and one per unreadable file.

    ``owner`` is the SHA-256 of the API key that made the job (None without keys): the key
    itself is never stored."""

    id: str
    status: str
    created: float
    started: float | None
    ended: float | None
    options: dict[str, Any]
    files: list[JobFile]
    pages_total: int
    pages_done: int
    pages_failed: int
    failures: dict[str, int] = field(default_factory=dict)
    error: str = ""
    owner: str | None = None

    @property
    def partial(self) -> bool:
        """Done, but some pages (or unreadable files) have error records."""
        return self.status == "done" and self.pages_failed > 0

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it: times in ISO-8601 UTC, no server paths, no owner."""
        pages = {"total": self.pages_total, "done": self.pages_done, "failed": self.pages_failed}
        return {
            "id": self.id, "status": self.status, "partial": self.partial,
            "created": _iso(self.created), "started": _iso(self.started), "ended": _iso(self.ended),
            "options": self.options, "files": [public_file(f) for f in self.files], "pages": pages,
            "failures": dict(self.failures), "error": self.error,
        }  # fmt: skip


def public_file(file: JobFile) -> dict[str, Any]:
    """A job's file as stored and shown: its name, pages and error; never its path."""
    return {"name": file.name, "pages": file.pages, "error": file.error}


def count_record(job: Job, record: dict[str, Any]) -> None:
    """Count one written page record into the job's counters."""
    job.pages_done += 1
    if record.get("status") != "ok":
        job.pages_failed += 1
        kind = (record.get("error") or {}).get("type") or "Error"
        job.failures[kind] = job.failures.get(kind, 0) + 1


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds")
