"""The service's one engine: warm workers on every device, fed the pages of all jobs in turn.

The HTTP process never runs a model. The dispatcher runs ``Fleet.map`` once, for the life of the
service, over an open-ended feed: it hands out the next page of the next job with pages waiting
(round-robin, so a 2,000-page job does not hold up a one-page request), and yields
``NOTHING_YET`` when no job has any. A job is ``running`` (and ``started`` is stamped) from the
moment the engine takes its first page for a worker, not when that page is done. Each result is
written to its job through the store as it arrives, server paths replaced by upload names; a
job whose last page is written is done.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from docfleet.engine.executors.messages import NOTHING_YET
from docfleet.jobs.run.config import DocumentOptions
from docfleet.page.types import PageTask
from docfleet.serve.redact import without_paths
from docfleet.serve.store import Job, JobStore
from docfleet.settings.engine import EngineOptions

PAGE_OPTIONS = ("pipeline", "ocr", "dpi")  # what a job may set for its own pages


class Dispatcher:
    """Owns the engine and the queue of pages; thread-safe."""

    def __init__(self, store: JobStore, engine: EngineOptions, pages: DocumentOptions):
        self.store = store
        self.engine = engine
        # the stages run every model a job may ask for; a job's pages skip what it did not
        self.pages = pages.model_copy(update={"pipeline": served_pipeline(pages.pipeline)})
        self.defaults = {k: getattr(pages, k) for k in PAGE_OPTIONS}
        self._queues: OrderedDict[str, deque[PageTask]] = OrderedDict()
        self._handed: dict[int, tuple[str, PageTask]] = {}
        self._cancelled: set[str] = set()
        self._started: set[str] = set()  # jobs marked running by this dispatcher
        self._lock = threading.Lock()
        self.changed = threading.Condition()  # notified whenever a job moves on
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._began = 0.0
        self.on_record: Callable[[dict[str, Any]], None] | None = None  # e.g. metrics
        self.error: BaseException | None = None

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Queue the pages of jobs an earlier server left unfinished, and start the workers."""
        for job in self.store.recover():
            self._enqueue(job)
        self._thread = threading.Thread(target=self._run, name="docfleet-dispatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the pages in hand; pages not begun stay queued in the store for the next
        start (their jobs go back to ``queued``)."""
        self._closing = True
        if self._stream is not None:
            self._stream.stop()
            self._stream.wake()
        if self._thread is not None:
            self._thread.join(timeout=120)
        for job in self.store.jobs(["running"]):
            self.store.set_status(job.id, "queued")

    # -- jobs ------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        self._enqueue(job)
        if self._stream is not None:
            self._stream.wake()

    def cancel(self, job_id: str) -> Job | None:
        """Drop the job's waiting pages; pages in hand finish but are not written."""
        with self._lock:
            self._queues.pop(job_id, None)
            self._cancelled.add(job_id)
            self._started.discard(job_id)
        job = self.store.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            job = self.store.set_status(job_id, "cancelled")
        self._notify()
        return job

    def waiting_pages(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def readiness(self) -> dict[str, Any]:
        """Per worker: its device and whether its models are loaded."""
        stream = self._stream
        workers = stream.stats.workers if stream is not None else []
        ready = bool(workers) and all(w.alive for w in workers) and self.error is None
        return {
            "ready": ready,
            "error": str(self.error) if self.error else "",
            "workers": [_worker_state(w) for w in workers],
        }

    def pages_per_second(self) -> float:
        """Pages done per second since the workers started (0 before any)."""
        stream, began = self._stream, self._began
        if stream is None or not began:
            return 0.0
        return stream.stats.items / max(time.monotonic() - began, 1e-9)

    # -- internals -------------------------------------------------------------------------

    def _enqueue(self, job: Job) -> None:
        from docfleet.documents.sources import expand_documents

        done = self.store.done_ids(job.id)
        stages = {k: getattr(self.pages, k) for k in PAGE_OPTIONS}
        overrides = job_overrides(job.options, self.defaults, stages)
        tasks = deque(
            PageTask(t.document, t.kind, t.page, t.pages, t.error_type, t.error, overrides)
            for t in expand_documents([f.path for f in job.files])
        )
        names = {str(f.path): f.name for f in job.files}
        todo = deque(t for t in tasks if _public_id(t, names) not in done)
        with self._lock:
            if todo:
                self._queues[job.id] = todo
        if not todo and job.status in ("queued", "running"):
            self.store.set_status(job.id, "done")  # every page was written before a restart
        self._notify()

    def _feed(self) -> Iterator[Any]:
        index = 0
        while not self._closing:
            with self._lock:
                picked = self._next_page()
            if picked is None:
                yield NOTHING_YET
                continue
            self._mark_running(picked[0])
            self._handed[index] = picked
            index += 1
            yield picked[1]

    def _mark_running(self, job_id: str) -> None:
        """A job whose first page the engine takes is running from now (once per job). The
        engine reads pages for its workers at most one batch per worker ahead of them, so on
        an idle server this is the moment a worker begins the page."""
        if job_id in self._started:
            return
        self._started.add(job_id)
        job = self.store.get(job_id)
        if job is not None and job.status == "queued":
            self.store.set_status(job_id, "running")
            self._notify()

    def _next_page(self) -> tuple[str, PageTask] | None:
        """The first page of the job at the head of the rotation; that job goes to the back."""
        while self._queues:
            job_id, queue = next(iter(self._queues.items()))
            if not queue:
                del self._queues[job_id]
                continue
            task = queue.popleft()
            self._queues.move_to_end(job_id)
            if not queue:
                del self._queues[job_id]
            return job_id, task
        return None

    def _run(self) -> None:
        from docfleet.engine.fleet import Fleet
        from docfleet.jobs.common.records import page_record
        from docfleet.jobs.run.pipeline import build_stages

        try:
            # one batch in hand per worker: a page of a new job waits for few pages of others
            engine = {"ordered": False, "progress": False, "prefetch": 1}
            fleet = Fleet(self.engine.model_copy(update=engine))
            with fleet.map(build_stages(self.pages), self._feed()) as stream:
                self._stream, self._began = stream, time.monotonic()
                for result in stream:
                    job_id, _task = self._handed.pop(result.index)
                    if job_id in self._cancelled:
                        continue
                    self._write(job_id, page_record(result))
        except BaseException as exc:  # the service reports it on /readyz
            self.error = exc
            self._notify()

    def _write(self, job_id: str, record: dict[str, Any]) -> None:
        job = self.store.get(job_id)
        if job is None:
            return  # deleted while its pages ran
        if job.status == "queued":
            self.store.set_status(job_id, "running")
        names = {str(f.path): f.name for f in job.files}
        record["document"] = names.get(record["document"], Path(record["document"]).name)
        record["id"] = f"{record['document']}#{record['page']}"
        record = without_paths(record, names, self.store.root)
        if self.store.add_record(job_id, record).status != "running":
            self._started.discard(job_id)  # ended: no page of it comes again
        if self.on_record is not None:
            self.on_record(record)
        self._notify()

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()


def served_pipeline(default: Any) -> str:
    """The stages the service's workers hold: the server's pipeline with layout and OCR
    (a job may ask for less, never for more).

    >>> served_pipeline("ocr"), served_pipeline("ocr+embed")
    ('layout+ocr', 'layout+ocr+embed')
    """
    from docfleet.jobs.run.pipeline_spec import document_stages

    if not isinstance(default, str):
        raise ValueError("docfleet serve runs one fused pipeline: give --pipeline as stage "
                         "names joined with +, not stage groups")  # fmt: skip
    named = document_stages(default)[1:]
    named.remove("assemble")
    return "+".join(dict.fromkeys(["layout", "ocr", *named]))


def job_overrides(
    chosen: dict[str, Any], defaults: dict[str, Any], stages: dict[str, Any]
) -> tuple[tuple[str, Any], ...]:
    """What a job's pages must tell the stages: the job's options over the server's defaults,
    where they differ from what the stages do by themselves.

    >>> job_overrides({}, {"pipeline": "ocr", "dpi": 150}, {"pipeline": "layout+ocr", "dpi": 150})
    (('pipeline', 'ocr'),)
    >>> job_overrides({"dpi": 200}, {"dpi": 150}, {"dpi": 150})
    (('dpi', 200),)
    """
    wanted = {k: chosen.get(k, defaults[k]) for k in defaults}
    return tuple((k, v) for k, v in wanted.items() if v != stages.get(k))


def _worker_state(worker: Any) -> dict[str, Any]:
    return {
        "device": worker.device,
        "replica": worker.replica,
        "ready": worker.alive,
        "pages": worker.items,
        "busy_seconds": round(worker.busy_seconds, 3),
    }


def _public_id(task: PageTask, names: dict[str, str]) -> str:
    """A page's id as the job's records carry it: the uploaded file's name and the page."""
    return f"{names.get(task.document, Path(task.document).name)}#{task.page}"
