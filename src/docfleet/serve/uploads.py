"""Uploaded files into a queued job: staged on disk, checked, handed to the dispatcher.

A file that is no document (or cannot be read) beside good ones stays in the job as one error
record, as ``docfleet run`` gives it; the good files run. Refusals name the limit: 415 when no
file of the request is a document, 413 for more pages than allowed, 429 (with ``Retry-After``)
when the queue is full, 422 for options this server cannot run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import File, Form, HTTPException, UploadFile
from pydantic import ValidationError

from docfleet.jobs.run.pipeline_spec import document_stages
from docfleet.serve.dispatcher import Dispatcher
from docfleet.serve.requests import JobOptions, explain
from docfleet.serve.service import Service
from docfleet.serve.store import Job

Files = Annotated[list[UploadFile], File(description="PDFs or images; repeat the field")]
OptionalText = Annotated[str | None, Form()]
OptionalNumber = Annotated[float | None, Form()]


def options_from(
    service: Service, pipeline: str | None, ocr: str | None, dpi: float | None
) -> JobOptions:
    """The job's options from its form fields; 422 names what is wrong or not served here."""
    try:
        chosen = JobOptions(pipeline=pipeline, ocr=ocr, dpi=dpi)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise HTTPException(422, explain(exc)) from None
    served_pipeline = service.dispatcher.pages.pipeline
    served = set(document_stages(served_pipeline))
    missing = set(document_stages(pipeline)) - served if pipeline else set()
    if missing:
        raise HTTPException(422, f"this server runs {served_pipeline}, not "
                                 f"{', '.join(sorted(missing))}")  # fmt: skip
    return chosen


def take_upload(
    service: Service, files: list[UploadFile], options: JobOptions, max_pages: int,
    owner: str | None = None,
) -> Job:  # fmt: skip
    """Stage ``files``, check them and the queue, and submit them as one new job of ``owner``
    (the hash of the caller's key)."""
    from docfleet.documents.sources import inspect_document

    config, dispatcher = service.config, service.dispatcher
    waiting = dispatcher.waiting_pages()
    staged: list[tuple[str, Path]] = []
    tmp = service.store.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        pages, refused = 0, []
        for upload in files:
            with tempfile.NamedTemporaryFile(dir=tmp, delete=False) as fh:
                shutil.copyfileobj(upload.file, fh, 1 << 20)
            staged.append((upload.filename or "upload", Path(fh.name)))
            kind, count, error = inspect_document(Path(fh.name), None)
            if kind is None:
                why = error.message.split(": ", 1)[-1] if error else "not a document"
                refused.append(f"{upload.filename!r}: {why}")
            pages += max(count, 1)  # a bad file gets one error record
        if len(refused) == len(staged):
            raise HTTPException(415, "; ".join(refused) or "no files")
        if pages > max_pages:
            raise HTTPException(413, f"{pages} pages, over the limit of {max_pages}")
        if waiting + pages > config.max_queue:
            raise HTTPException(429, f"{waiting} pages are waiting (limit {config.max_queue})"
                                "; try again later", headers={"Retry-After": str(
                                    _retry_after(dispatcher, waiting))})  # fmt: skip
        chosen = options.model_dump(exclude_none=True)
        job = service.store.create(staged, chosen, _inspect, owner=owner)
        staged = []
        dispatcher.submit(job)
        return job
    finally:
        for _name, path in staged:
            path.unlink(missing_ok=True)


def _inspect(path: Path) -> tuple[int, str]:
    from docfleet.documents.sources import inspect_document

    _kind, pages, error = inspect_document(path, None)
    return pages, error.message if error else ""


def _retry_after(dispatcher: Dispatcher, waiting: int) -> int:
    """Seconds until the queue has room, at the rate pages have gone so far (5 to 600)."""
    rate = dispatcher.pages_per_second()
    return int(min(600, max(5, waiting / rate if rate else 30)))
