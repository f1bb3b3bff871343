"""``/v1/jobs``: queue files as a job (202 at once), list and read jobs, stream their page
records, serve their Markdown, send their progress as server-sent events, cancel or delete."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from docfleet.serve.service import KEY_REQUIRED, ServiceDep
from docfleet.serve.store import ENDED_STATES, Job, JobStore
from docfleet.serve.uploads import Files, OptionalNumber, OptionalText, options_from, take_upload

router = APIRouter(dependencies=KEY_REQUIRED)


@router.post("/v1/jobs", status_code=202)
def create_job(
    service: ServiceDep, files: Files, pipeline: OptionalText = None, ocr: OptionalText = None,
    dpi: OptionalNumber = None,
) -> JSONResponse:  # fmt: skip
    """Queue the files' pages; answers at once with the job's id."""
    options = options_from(service, pipeline, ocr, dpi)
    job = take_upload(service, files, options, service.config.max_pages)
    body = {"id": job.id, "status": job.status, "pages": job.pages_total}
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("/v1/jobs")
def list_jobs(service: ServiceDep) -> list[dict[str, Any]]:
    return [job.to_dict() for job in service.store.jobs()]


@router.get("/v1/jobs/{job_id}")
def get_job(job_id: str, service: ServiceDep) -> dict[str, Any]:
    return _find(service.store, job_id).to_dict()


@router.get("/v1/jobs/{job_id}/pages")
def job_pages(job_id: str, service: ServiceDep, since: int = 0) -> StreamingResponse:
    """The page records written so far (JSON lines), after the first ``since``."""
    store = service.store
    _find(store, job_id)

    def lines() -> Iterator[str]:
        for record in store.records(job_id, since=max(0, since)):
            yield json.dumps(record, ensure_ascii=False) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/v1/jobs/{job_id}/documents/{name:path}")
def job_markdown(job_id: str, name: str, service: ServiceDep) -> PlainTextResponse:
    """A document's Markdown (``report.pdf.md``), once its last page is in."""
    _find(service.store, job_id)
    path = service.store.markdown_file(job_id, name.removesuffix(".md"))
    if path is None:
        raise HTTPException(404, f"no Markdown for {name!r} in job {job_id} (yet)")
    return PlainTextResponse(path.read_text(encoding="utf-8"), media_type="text/markdown")


@router.delete("/v1/jobs/{job_id}")
def delete_job(job_id: str, service: ServiceDep) -> dict[str, Any]:
    """Cancel a queued or running job; delete a finished one with its files."""
    job = _find(service.store, job_id)
    if job.status in ENDED_STATES:
        service.store.delete(job_id)
        return {"id": job_id, "deleted": True}
    return service.dispatcher.cancel(job_id).to_dict()


@router.get("/v1/jobs/{job_id}/events")
async def job_events(job_id: str, service: ServiceDep) -> StreamingResponse:
    """Server-sent events: ``progress`` on each change, ``end`` when the job ends."""
    _find(service.store, job_id)
    return StreamingResponse(_events(service.store, job_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip


async def _events(store: JobStore, job_id: str) -> AsyncIterator[str]:
    """The job's state whenever its status or pages done change, polled every 0.25 s."""
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
        if job.status in ENDED_STATES:
            yield f"event: end\ndata: {json.dumps({'status': job.status})}\n\n"
            return
        await asyncio.sleep(0.25)


def _find(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job
