"""The HTTP API of ``docfleet serve`` (FastAPI; OpenAPI at ``/docs``).

Jobs: ``POST /v1/jobs`` takes files and answers 202 at once; the dispatcher runs their pages on
the warm workers; ``GET /v1/jobs/{id}`` says how far it is, ``/pages`` streams the records,
``/documents/{name}.md`` serves the Markdown, ``/events`` sends progress as server-sent events,
``DELETE`` cancels (or deletes a finished job). ``POST /v1/convert`` waits for small inputs.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docfleet.jobs.run.pipeline_spec import document_stages
from docfleet.serve.dispatcher import Dispatcher
from docfleet.serve.metrics import CONTENT_TYPE as METRICS_TYPE
from docfleet.serve.metrics import ServiceMetrics
from docfleet.serve.settings import ServeConfig
from docfleet.serve.store import JobStore

TERMINAL = ("done", "failed", "cancelled")
Files = Annotated[list[UploadFile], File(description="PDFs or images; repeat the field")]
OptionalText = Annotated[str | None, Form()]
OptionalNumber = Annotated[float | None, Form()]


class JobOptions(BaseModel):
    """Page options a job may set (form fields); unset ones are the server's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline: str | None = None
    ocr: Literal["auto", "always", "never"] | None = None
    dpi: float | None = Field(None, gt=0, le=1200)

    @field_validator("pipeline")
    @classmethod
    def _pipeline(cls, value: str | None) -> str | None:
        if value is not None:
            document_stages(value)  # names the stages it may join
        return value


def create_app(config: ServeConfig) -> Any:
    """The service: its store under ``config.data`` and one dispatcher with warm workers."""
    from docfleet.jobs.run.job import document_engine_options
    from docfleet.serve.limits import BodyLimit, key_matches
    from docfleet.serve.ui import add_ui

    data = Path(config.data)
    store = JobStore(data)
    dispatcher = Dispatcher(store, document_engine_options(config), config.document_options())

    async def expire_hourly() -> None:
        while True:  # finished jobs older than --keep-hours go, with their files
            await asyncio.to_thread(store.expire, config.keep_hours)
            await asyncio.sleep(3600)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        dispatcher.start()  # recovers unfinished jobs first
        expiry = asyncio.create_task(expire_hourly())
        yield
        expiry.cancel()
        await asyncio.to_thread(dispatcher.stop)

    def check_key(request: Request) -> None:
        if config.api_key and not key_matches(request.headers, config.api_key):
            raise HTTPException(401, "missing or wrong API key (X-Api-Key: KEY or "
                                     "Authorization: Bearer KEY)")  # fmt: skip

    app = FastAPI(title="docfleet", lifespan=lifespan, summary="Documents in, text and Markdown "
                  "out, on every device of this machine.")  # fmt: skip
    add_ui(app)
    app.state.store, app.state.dispatcher = store, dispatcher
    guarded = [Depends(check_key)]
    metrics = ServiceMetrics(dispatcher, store)
    dispatcher.on_record = metrics.page

    @app.middleware("http")
    async def timed(request: Request, call_next: Any) -> Any:
        began = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.request(request.method, path, response.status_code, time.perf_counter() - began)
        return response

    @app.get("/metrics", dependencies=guarded)
    def prometheus() -> Response:
        """Prometheus: pages by status and device, queue depth, jobs by status, busy seconds
        and readiness per worker, request latencies."""
        return Response(metrics.render(), media_type=METRICS_TYPE)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up (open without the API key)."""
        return {"status": "ok"}

    @app.get("/readyz", dependencies=guarded)
    def readyz() -> JSONResponse:
        """Every worker has loaded its models (503 until then, or after an engine error)."""
        state = dispatcher.readiness()
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    def take_upload(files: list[UploadFile], options: JobOptions, max_pages: int) -> Any:
        from docfleet.documents.sources import inspect_document

        waiting = dispatcher.waiting_pages()
        staged: list[tuple[str, Path]] = []
        tmp = data / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            pages = 0
            for upload in files:
                with tempfile.NamedTemporaryFile(dir=tmp, delete=False) as fh:
                    shutil.copyfileobj(upload.file, fh, 1 << 20)
                staged.append((upload.filename or "upload", Path(fh.name)))
                kind, count, error = inspect_document(Path(fh.name), None)
                if kind is None:
                    why = error.message.split(": ", 1)[-1] if error else "not a document"
                    raise HTTPException(415, f"{upload.filename!r}: {why}")
                pages += max(count, 1)
            if pages > max_pages:
                raise HTTPException(413, f"{pages} pages, over the limit of {max_pages}")
            if waiting + pages > config.max_queue:
                raise HTTPException(429, f"{waiting} pages are waiting (limit {config.max_queue})"
                                    "; try again later", headers={"Retry-After": str(
                                        _retry_after(dispatcher, waiting))})  # fmt: skip
            chosen = options.model_dump(exclude_none=True)
            job = store.create(staged, chosen, _inspect)
            staged = []
            dispatcher.submit(job)
            return job
        finally:
            for _name, path in staged:
                path.unlink(missing_ok=True)

    def options_from(pipeline: str | None, ocr: str | None, dpi: float | None) -> JobOptions:
        try:
            chosen = JobOptions(pipeline=pipeline, ocr=ocr, dpi=dpi)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise HTTPException(422, "; ".join(e["msg"] for e in exc.errors())) from None
        served = set(document_stages(dispatcher.pages.pipeline))
        missing = set(document_stages(pipeline)) - served if pipeline else set()
        if missing:
            raise HTTPException(422, f"this server runs {dispatcher.pages.pipeline}, not "
                                     f"{', '.join(sorted(missing))}")  # fmt: skip
        return chosen

    @app.post("/v1/jobs", status_code=202, dependencies=guarded)
    def create_job(
        files: Files, pipeline: OptionalText = None, ocr: OptionalText = None,
        dpi: OptionalNumber = None,
    ) -> JSONResponse:  # fmt: skip
        """Queue the files' pages; answers at once with the job's id."""
        job = take_upload(files, options_from(pipeline, ocr, dpi), config.max_pages)
        body = {"id": job.id, "status": job.status, "pages": job.pages_total}
        return JSONResponse(body, status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})

    @app.get("/v1/jobs", dependencies=guarded)
    def list_jobs() -> list[dict[str, Any]]:
        return [job.to_dict() for job in store.jobs()]

    def find(job_id: str) -> Any:
        job = store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job

    @app.get("/v1/jobs/{job_id}", dependencies=guarded)
    def get_job(job_id: str) -> dict[str, Any]:
        return find(job_id).to_dict()

    @app.get("/v1/jobs/{job_id}/pages", dependencies=guarded)
    def job_pages(job_id: str, since: int = 0) -> StreamingResponse:
        """The page records written so far (JSON lines), after the first ``since``."""
        find(job_id)

        def lines() -> Iterator[str]:
            for record in store.records(job_id, since=max(0, since)):
                yield json.dumps(record, ensure_ascii=False) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.get("/v1/jobs/{job_id}/documents/{name:path}", dependencies=guarded)
    def job_markdown(job_id: str, name: str) -> PlainTextResponse:
        """A document's Markdown (``report.pdf.md``), once its last page is in."""
        find(job_id)
        path = store.markdown_file(job_id, name.removesuffix(".md"))
        if path is None:
            raise HTTPException(404, f"no Markdown for {name!r} in job {job_id} (yet)")
        return PlainTextResponse(path.read_text(encoding="utf-8"), media_type="text/markdown")

    @app.delete("/v1/jobs/{job_id}", dependencies=guarded)
    def delete_job(job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job; delete a finished one with its files."""
        job = find(job_id)
        if job.status in TERMINAL:
            store.delete(job_id)
            return {"id": job_id, "deleted": True}
        return dispatcher.cancel(job_id).to_dict()

    @app.get("/v1/jobs/{job_id}/events", dependencies=guarded)
    async def job_events(job_id: str) -> StreamingResponse:
        """Server-sent events: ``progress`` on each change, ``end`` when the job ends."""
        find(job_id)

        async def events() -> AsyncIterator[str]:
            last = None
            while True:
                job = await asyncio.to_thread(store.get, job_id)
                if job is None:
                    yield 'event: end\ndata: {"status": "deleted"}\n\n'
                    return
                state = job.to_dict()
                key = (state["status"], state["pages"]["done"])
                if key != last:
                    last = key
                    yield f"event: progress\ndata: {json.dumps(state)}\n\n"
                if job.status in TERMINAL:
                    yield f"event: end\ndata: {json.dumps({'status': job.status})}\n\n"
                    return
                await asyncio.sleep(0.25)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})  # fmt: skip

    @app.post("/v1/convert", dependencies=guarded)
    def convert(
        files: Files, pipeline: OptionalText = None, ocr: OptionalText = None,
        dpi: OptionalNumber = None,
    ) -> JSONResponse:  # fmt: skip
        """Small inputs in one request: the records and Markdown, or 202 and the job's id when
        it takes longer than ``--convert-timeout``."""
        job = take_upload(files, options_from(pipeline, ocr, dpi), config.convert_max_pages)
        deadline = time.monotonic() + config.convert_timeout
        with dispatcher.changed:
            while time.monotonic() < deadline:
                job = store.get(job.id)
                if job is None or job.status in TERMINAL:
                    break
                dispatcher.changed.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
        if job is None or job.status not in TERMINAL:
            return JSONResponse({"id": job.id if job else None, "status": "running"},
                                status_code=202)  # fmt: skip
        markdown = {}
        for f in job.files:
            path = store.markdown_file(job.id, f.name)
            if path is not None:
                markdown[f.name] = path.read_text(encoding="utf-8")
        return JSONResponse({"job": job.to_dict(), "pages": list(store.records(job.id)),
                             "markdown": markdown})  # fmt: skip

    return BodyLimit(app, int(config.max_upload_mb * 1_000_000))


def _inspect(path: Path) -> tuple[int, str]:
    from docfleet.documents.sources import inspect_document

    _kind, pages, error = inspect_document(path, None)
    return pages, error.message if error else ""


def _retry_after(dispatcher: Dispatcher, waiting: int) -> int:
    """Seconds until the queue has room, at the rate pages have gone so far (5 to 600)."""
    rate = dispatcher.pages_per_second()
    return int(min(600, max(5, waiting / rate if rate else 30)))
