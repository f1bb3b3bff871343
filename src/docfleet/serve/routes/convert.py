"""``POST /v1/convert``: small inputs in one request, answered with their records and Markdown
(or 202 and the job's id when they take longer than ``--convert-timeout``)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from docfleet.serve.job import ENDED_STATES, Job
from docfleet.serve.service import KEY_REQUIRED, CallerDep, Service, ServiceDep
from docfleet.serve.uploads import Files, OptionalNumber, OptionalText, options_from, take_upload

router = APIRouter(dependencies=KEY_REQUIRED)


@router.post("/v1/convert")
def convert(
    service: ServiceDep, caller: CallerDep, files: Files, pipeline: OptionalText = None,
    ocr: OptionalText = None, dpi: OptionalNumber = None,
) -> JSONResponse:  # fmt: skip
    """Small inputs in one request: the records and Markdown, or 202 and the job's id when
    it takes longer than ``--convert-timeout``."""
    options = options_from(service, pipeline, ocr, dpi)
    max_pages = service.config.convert_max_pages
    job = take_upload(service, files, options, max_pages, caller.owner)
    ended = _wait_for_end(service, job, service.config.convert_timeout)
    if ended is None or ended.status not in ENDED_STATES:
        return JSONResponse({"id": ended.id if ended else None, "status": "running"},
                            status_code=202)  # fmt: skip
    store = service.store
    markdown = {}
    for f in ended.files:
        path = store.markdown_file(ended.id, f.name)
        if path is not None:
            markdown[f.name] = path.read_text(encoding="utf-8")
    return JSONResponse({"job": ended.to_dict(), "pages": list(store.records(ended.id)),
                         "markdown": markdown})  # fmt: skip


def _wait_for_end(service: Service, job: Job, timeout: float) -> Job | None:
    """The job once it has ended, or as it stands after ``timeout`` seconds (None if gone)."""
    dispatcher, store = service.dispatcher, service.store
    deadline = time.monotonic() + timeout
    found: Job | None = job
    with dispatcher.changed:
        while time.monotonic() < deadline:
            found = store.get(job.id)
            if found is None or found.status in ENDED_STATES:
                break
            dispatcher.changed.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
    return found
