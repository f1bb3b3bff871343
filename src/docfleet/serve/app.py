"""The HTTP API of ``docfleet serve`` (FastAPI; OpenAPI at ``/docs``).

Jobs: ``POST /v1/jobs`` takes files and answers 202 at once; the dispatcher runs their pages on
the warm workers; ``GET /v1/jobs/{id}`` says how far it is, ``/pages`` streams the records,
``/documents/{name}.md`` serves the Markdown (``.html``: rendered), ``/results.jsonl`` and
``/results.zip`` download the results, ``/events`` sends progress as server-sent events,
``DELETE`` cancels (or deletes a finished job). ``POST /v1/convert`` waits for small inputs.
With API keys, a key sees only the jobs it made (``docfleet.serve.access``).
The endpoints live in ``docfleet.serve.routes``; this module puts the service together.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from docfleet.serve import ui
from docfleet.serve.access import Keys
from docfleet.serve.data_folder import data_folder
from docfleet.serve.dispatcher import Dispatcher
from docfleet.serve.limits import BodyLimit
from docfleet.serve.metrics import ServiceMetrics
from docfleet.serve.routes import convert, health, jobs, results
from docfleet.serve.service import Service
from docfleet.serve.settings import ServeConfig
from docfleet.serve.store import JobStore


def create_app(config: ServeConfig) -> Any:
    """The service: its store under ``config.data`` (the user's data folder when unset) and
    one dispatcher with warm workers (started with the app, by its lifespan).

    Example::

        import uvicorn
        uvicorn.run(create_app(ServeConfig(data="/srv/docfleet", api_key="KEY1,KEY2")))
    """
    from docfleet.jobs.run.job import document_engine_options

    folder = data_folder(config.data, os.environ)
    store = JobStore(folder, keep_furniture=config.keep_furniture)
    dispatcher = Dispatcher(store, document_engine_options(config), config.document_options())
    metrics = ServiceMetrics(dispatcher, store)
    dispatcher.on_record = metrics.page
    keys = Keys.of(config.user_keys(), config.admin_key)
    service = Service(config, store, dispatcher, metrics, keys)

    app = FastAPI(title="docfleet", lifespan=_lifespan(service), summary="Documents in, text "
                  "and Markdown out, on every device of this machine.")  # fmt: skip
    app.state.service = service
    app.middleware("http")(_timed(metrics))
    for module in (ui, health, jobs, results, convert):
        app.include_router(module.router)
    return BodyLimit(app, int(config.max_upload_mb * 1_000_000))


def _lifespan(service: Service) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Start the workers (recovering unfinished jobs first) and the hourly expiry; on the way
    out, stop both."""

    async def expire_hourly() -> None:
        while True:  # finished jobs older than --keep-hours go, with their files
            await asyncio.to_thread(service.store.expire, service.config.keep_hours)
            await asyncio.sleep(3600)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        service.dispatcher.start()  # recovers unfinished jobs first
        expiry = asyncio.create_task(expire_hourly())
        yield
        expiry.cancel()
        await asyncio.to_thread(service.dispatcher.stop)

    return lifespan


Handler = Callable[[Request], Awaitable[Response]]


def _timed(metrics: ServiceMetrics) -> Callable[[Request, Handler], Awaitable[Response]]:
    """HTTP middleware: each request's latency by method, route template and status."""

    async def timed(request: Request, call_next: Handler) -> Response:
        began = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.request(request.method, path, response.status_code, time.perf_counter() - began)
        return response

    return timed
