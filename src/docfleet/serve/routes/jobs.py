"""``/v1/jobs``: queue files as a job (202 at once), list and read jobs, stream their page
records, send their progress as server-sent events, cancel or delete. With API keys, each key
sees and deletes only its own jobs (the admin key all); results are in ``routes.results``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from docfleet.serve.job import ENDED_STATES, public_file
from docfleet.serve.service import KEY_REQUIRED, CallerDep, ServiceDep
from docfleet.serve.store import JobStore
from docfleet.serve.uploads import Files, OptionalNumber, OptionalText, options_from, take_upload

router = APIRouter(dependencies=KEY_REQUIRED)


@router.post("/v1/jobs", status_code=202)
def create_job(
    service: ServiceDep, caller: CallerDep, files: Files, pipeline: OptionalText = None,
    ocr: OptionalText = None, dpi: OptionalNumber = None,
) -> JSONResponse:  # fmt: skip
    """Queue the files' pages; answers at once with the job's id, and each file with its
    pages and error (a file that is no document runs as one error record)."""
    options = options_from(service, pipeline, ocr, dpi)
    job = take_upload(service, files, options, service.config.max_pages, caller.owner)
    body = {"id": job.id, "status": job.status, "pages": job.pages_total,
            "files": [public_file(f) for f in job.files]}  # fmt: skip
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("/v1/jobs")
def list_jobs(service: ServiceDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The caller's jobs (every job for the admin key, or without keys), oldest first."""
    return [job.to_dict() for job in service.store.jobs() if caller.sees(job)]


@router.get("/v1/jobs/{job_id}")
def get_job(job_id: str, service: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    return service.find(job_id, caller).to_dict()


@router.get("/v1/jobs/{job_id}/pages")
def job_pages(
    job_id: str, service: ServiceDep, caller: CallerDep, since: int = 0
) -> StreamingResponse:
    """The page records written so far (JSON lines), after the first ``since``."""
    store = service.store
    service.find(job_id, caller)

    def lines() -> Iterator[str]:
        for record in store.records(job_id, since=max(0, since)):
            yield json.dumps(record, ensure_ascii=False) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.delete("/v1/jobs/{job_id}")
def delete_job(job_id: str, service: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    """Cancel a queued or running job; delete a finished one with its files."""
    job = service.find(job_id, caller)
    if job.status in ENDED_STATES:
        service.store.delete(job_id)
        return {"id": job_id, "deleted": True}
    return service.dispatcher.cancel(job_id).to_dict()


@router.get("/v1/jobs/{job_id}/events")
async def job_events(job_id: str, service: ServiceDep, caller: CallerDep) -> StreamingResponse:
    """Server-sent events: ``progress`` on each change, ``end`` when the job ends."""
    await asyncio.to_thread(service.find, job_id, caller)
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
