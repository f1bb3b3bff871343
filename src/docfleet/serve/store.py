"""The jobs of ``docfleet serve``: a row each in SQLite, a folder each for files and results.

SQLite (``<root>/jobs.sqlite3``) holds each job as JSON (status, times, counters, files). Its
folder (``<root>/jobs/<id>/``) holds the uploads (``inputs/``), the page records
(``pages.jsonl``) and the Markdown (``documents/``). ``pages.jsonl`` is the record of what is
done: a killed server may leave a line without its counter update, so ``recover`` recounts.

One server process owns a store; its threads may share it (writes take one lock, and every
call opens its own SQLite connection).

>>> store = JobStore(getfixture("tmp_path"))
>>> upload = store.root / "upload.tmp"
>>> _ = upload.write_bytes(b"%PDF-")
>>> job = store.create([("../Report.pdf", upload)], {"dpi": 200.0}, lambda path: (1, ""))
>>> job.files[0].name, job.status, job.pages_total
('Report.pdf', 'queued', 1)
>>> store.add_record(job.id, {"id": "Report.pdf#1", "document": "Report.pdf", "page": 1,
...                           "pages": 1, "status": "ok", "markdown": "Hello"}).status
'done'
>>> store.markdown_file(job.id, "Report.pdf").read_text()
'# Report.pdf\\n\\n<!-- page 1 -->\\n\\nHello\\n'
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from docfleet.io.sinks.jsonl import JsonlSink, read_records
from docfleet.io.sinks.markdown import MarkdownSink, markdown_path
from docfleet.page.continued_tables import Continuations, then_merge_tables
from docfleet.page.furniture import Furniture
from docfleet.serve.job import ENDED_STATES, JOB_STATES, Job, JobFile, count_record, public_file
from docfleet.serve.names import safe_name, unique_name

__all__ = ["ENDED_STATES", "JOB_STATES", "Job", "JobFile", "JobStore", "safe_name"]
_JOB_ID = re.compile(r"[0-9a-f]{16}")
# the job as JSON, and beside it the fields that queries pick jobs by
_SCHEMA = """CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, created REAL NOT NULL, ended REAL,
    job TEXT NOT NULL)"""


@dataclass
class _Live:
    """What ``add_record`` keeps per job between calls: ids written, open documents' pages."""

    ids: set[str]
    markdown: MarkdownSink
    furniture: Furniture
    tables: Continuations  # a table going on from the page before, marked in pages.jsonl


class JobStore:
    """Jobs, their uploads and their page records under ``root``; safe to reopen after a crash."""

    def __init__(self, root: Path, *, keep_furniture: bool = False) -> None:
        self.root = Path(root).resolve()
        self.keep_furniture = keep_furniture
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self._db_path = self.root / "jobs.sqlite3"
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            db.execute(_SCHEMA)

    def job_dir(self, job_id: str) -> Path:
        if not _JOB_ID.fullmatch(job_id):
            raise ValueError(f"{job_id!r} is not a job id (16 lowercase hex characters)")
        return self.root / "jobs" / job_id

    def create(
        self,
        files: list[tuple[str, Path]],
        options: dict[str, Any],
        inspect: Callable[[Path], tuple[int, str]],
        *,
        owner: str | None = None,
    ) -> Job:
        """Move the uploads ``(client's name, temp path)`` into a new queued job of ``owner``
        (the hash of the API key that made it; never the key).

        All or nothing: if a move, ``inspect`` or the insert fails, the job's folder goes (with
        the uploads already moved into it) and the error is raised.
        """
        if not files:
            raise ValueError("a job needs at least one file")
        json.dumps(options)  # options that cannot be stored fail here, before anything moves
        job_id = secrets.token_hex(8)
        job_dir = self.job_dir(job_id)
        job_dir.mkdir()  # never an existing folder, which the clean-up below would remove
        try:
            inputs = job_dir / "inputs"
            inputs.mkdir()
            stored: list[JobFile] = []
            taken: set[str] = set()
            for raw_name, temp in files:
                name = unique_name(safe_name(raw_name), taken)
                path = inputs / name
                shutil.move(temp, path)
                pages, error = inspect(path)
                error = error.replace(str(path), name)  # the API shows names, not server paths
                if error:
                    pages = 0  # the file gets one error record, as the batch CLI gives it
                elif pages <= 0:
                    error = "the document has no pages"
                stored.append(JobFile(name, path, pages, error))
            total = sum(f.pages if f.pages > 0 else 1 for f in stored)
            job = Job(job_id, "queued", time.time(), None, None, options, stored, total, 0, 0,
                      owner=owner)  # fmt: skip
            self._save(job, new=True)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None for an unknown id or a string that is no job id."""
        if not _JOB_ID.fullmatch(job_id):
            return None
        found = self._select("WHERE id = ?", (job_id,))
        return found[0] if found else None

    def jobs(self, statuses: Iterable[str] | None = None) -> list[Job]:
        """Jobs with one of ``statuses`` (all if None), oldest first."""
        where, args = "", tuple(statuses or ())
        if statuses is not None:
            where = f"WHERE status IN ({', '.join('?' * len(args))})"
        return self._select(f"{where} ORDER BY created, rowid", args)

    def set_status(self, job_id: str, status: str, *, error: str = "") -> Job:
        """Move a job to ``status``: running stamps ``started`` once, an end stamps ``ended``; a job
        that ended is not running again."""
        if status not in JOB_STATES:
            raise ValueError(f"unknown job status {status!r}; valid: {', '.join(JOB_STATES)}")
        with self._lock:
            job = self._require(job_id)
            if status == "running" and job.status in ENDED_STATES:
                return job  # a page finishing after a cancel does not bring its job back
            now = time.time()
            if status == "running" and job.started is None:
                job.started = now
            if status in ENDED_STATES:
                if job.status not in ENDED_STATES or job.ended is None:
                    job.ended = now
                self._live.pop(job_id, None)
            else:
                job.ended = None
            job.status, job.error = status, error
            self._save(job)
            return job

    def add_record(self, job_id: str, record: dict[str, Any]) -> Job:
        """Write one page record of the job; the job is done when its last record is in.

        The line is on disk before SQLite counts it, so a kill in between loses nothing that
        ``recover`` cannot recount. A record whose id is already written is ignored.
        """
        missing = [key for key in ("id", "document", "page") if key not in record]
        if missing:
            raise ValueError(f"a page record needs {', '.join(missing)}")
        with self._lock:
            job = self._require(job_id)
            live = self._load(job)
            if record["id"] in live.ids:
                return job
            live.furniture.mark(record)
            live.tables.mark(record)
            with JsonlSink(self._pages(job_id), resume=True) as sink:
                sink.write(record)
            live.ids.add(record["id"])
            live.markdown.add(record)
            count_record(job, record)
            if job.pages_done >= job.pages_total and job.status in ("queued", "running"):
                self._finish(job)
            self._save(job)
            return job

    def done_ids(self, job_id: str) -> set[str]:
        """Ids of the records written: the pages a restarted job must not run again."""
        return {record["id"] for record in self.records(job_id)}

    def records(self, job_id: str, since: int = 0) -> Iterator[dict[str, Any]]:
        """The job's page records after the first ``since``, in the order written."""
        if not _JOB_ID.fullmatch(job_id):
            return iter(())
        return islice(read_records(self._pages(job_id)), max(since, 0), None)

    def markdown_file(self, job_id: str, name: str) -> Path | None:
        """The Markdown of the job's file ``name``, once all its pages are in."""
        job = self.get(job_id)
        if job is None or not any(f.name == name for f in job.files):
            return None
        job_dir = self.job_dir(job_id)
        path = markdown_path(job_dir, name)
        if not path.is_file() or job_dir not in path.resolve().parents:
            return None
        return path

    def recover(self) -> list[Job]:
        """At start-up: recount unfinished jobs from ``pages.jsonl`` and queue them again.

        Jobs with every record written become done; the others (running ones too) become
        queued and are returned oldest first. Folders a killed ``create`` or ``delete`` left
        without a row are removed, so call this before the first ``create``.
        """
        with self._db() as db:
            known = {row[0] for row in db.execute("SELECT id FROM jobs")}
        for folder in (self.root / "jobs").iterdir():
            if _JOB_ID.fullmatch(folder.name) and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
        queued = []
        with self._lock:
            for job in self.jobs(("queued", "running")):
                self._live.pop(job.id, None)
                self._load(job)
                if job.pages_done >= job.pages_total:
                    self._finish(job)
                else:
                    job.status = "queued"
                    queued.append(job)
                self._save(job)
        return queued

    def delete(self, job_id: str) -> bool:
        """Remove the job's row, then its folder; False if there was no such job."""
        if not _JOB_ID.fullmatch(job_id):
            return False
        with self._lock:
            with self._db() as db:
                found = db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0
            self._live.pop(job_id, None)
            shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        return found

    def expire(self, keep_hours: float, now: float | None = None) -> int:
        """Delete the jobs that ended more than ``keep_hours`` ago; returns how many."""
        cutoff = (time.time() if now is None else now) - keep_hours * 3600
        with self._db() as db:
            query = "SELECT id FROM jobs WHERE status IN (?, ?, ?) AND ended < ?"
            ids = [row[0] for row in db.execute(query, (*ENDED_STATES, cutoff))]
        return sum(self.delete(job_id) for job_id in ids)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection for one call, committed (or rolled back) and closed at the end."""
        with closing(sqlite3.connect(self._db_path, timeout=30)) as db, db:
            yield db

    def _pages(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "pages.jsonl"

    def _require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id!r}")
        return job

    def _load(self, job: Job) -> _Live:
        """The job's live state, rebuilt from ``pages.jsonl`` the first time (counters too)."""
        if (live := self._live.get(job.id)) is not None:
            return live
        job_dir = self.job_dir(job.id)
        furniture = Furniture(keep=self.keep_furniture)  # across each document's pages
        compose = then_merge_tables(furniture.compose)  # then tables continued across pages
        markdown = MarkdownSink(job_dir, job_dir / "inputs", compose=compose)
        live = _Live(set(), markdown, furniture, Continuations())
        job.pages_done, job.pages_failed, job.failures = 0, 0, {}
        for record in read_records(self._pages(job.id)):
            if record.get("id") not in live.ids:
                live.ids.add(record.get("id"))
                furniture.observe(record)
                live.tables.mark(record)
                live.markdown.add(record, replay=True)
                count_record(job, record)
        self._live[job.id] = live
        return live

    def _finish(self, job: Job) -> None:
        job.status, job.ended = "done", time.time()
        job.started = job.started or job.ended
        self._live.pop(job.id, None)

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        with self._db() as db:
            rows = db.execute(f"SELECT job FROM jobs {where}", args).fetchall()
        return [self._job(row) for row in rows]

    def _save(self, job: Job, *, new: bool = False) -> None:
        data = json.dumps({**vars(job), "files": [public_file(f) for f in job.files]})
        sql = "UPDATE jobs SET status = ?2, created = ?3, ended = ?4, job = ?5 WHERE id = ?1"
        with self._db() as db:
            db.execute(
                "INSERT INTO jobs VALUES (?1, ?2, ?3, ?4, ?5)" if new else sql,
                (job.id, job.status, job.created, job.ended, data),
            )

    def _job(self, row: tuple[str]) -> Job:
        data = json.loads(row[0])
        inputs = self.job_dir(data["id"]) / "inputs"
        data["files"] = [JobFile(path=inputs / f["name"], **f) for f in data["files"]]
        return Job(**data)
