"""A job's results: each document's Markdown (as it is, or rendered as safe HTML), and the
whole job as JSON lines or a zip to download. Each answers 404 for another key's job."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from docfleet.serve.archive import chunks, results_zip
from docfleet.serve.markdown_html import to_html
from docfleet.serve.service import KEY_REQUIRED, CallerDep, ServiceDep

router = APIRouter(dependencies=KEY_REQUIRED)

#: What a rendered document may do if it is opened on its own: nothing (no script, no style,
#: nothing loaded); the page shows it inside its own policy.
FRAGMENT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/v1/jobs/{job_id}/documents/{name:path}")
def job_document(job_id: str, name: str, service: ServiceDep, caller: CallerDep) -> Response:
    """A document's Markdown (``report.pdf.md``), or the same rendered as an HTML fragment
    with everything from the document escaped (``report.pdf.html``), once its last page is
    in."""
    service.find(job_id, caller)
    rendered = name.endswith(".html")
    document = name.removesuffix(".html") if rendered else name.removesuffix(".md")
    path = service.store.markdown_file(job_id, document)
    if path is None:
        raise HTTPException(404, f"no Markdown for {name!r} in job {job_id} (yet)")
    text = path.read_text(encoding="utf-8")
    if rendered:
        return HTMLResponse(to_html(text), headers=FRAGMENT_HEADERS)
    return PlainTextResponse(text, media_type="text/markdown")


@router.get("/v1/jobs/{job_id}/results.jsonl")
def results_jsonl(job_id: str, service: ServiceDep, caller: CallerDep) -> StreamingResponse:
    """Every page record written so far, as a ``<id>.jsonl`` file to save."""
    service.find(job_id, caller)
    store = service.store

    def lines() -> Iterator[str]:
        for record in store.records(job_id):
            yield json.dumps(record, ensure_ascii=False) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson",
                             headers=_attachment(f"{job_id}.jsonl"))  # fmt: skip


@router.get("/v1/jobs/{job_id}/results.zip")
def results_archive(job_id: str, service: ServiceDep, caller: CallerDep) -> StreamingResponse:
    """``pages.jsonl`` and ``documents/`` (Markdown and its images) as ``<id>.zip``; 409 until
    the job has ended."""
    job = service.find(job_id, caller)
    if job.status in ("queued", "running"):
        raise HTTPException(409, f"job {job_id} is {job.status}: its zip is ready when it "
                                 "ends (results.jsonl has the pages so far)")  # fmt: skip
    archive = results_zip(service.store.job_dir(job_id))
    return StreamingResponse(chunks(archive), media_type="application/zip",
                             headers=_attachment(f"{job_id}.zip"))  # fmt: skip


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
