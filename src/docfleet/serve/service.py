"""The parts of one service that its routes share: settings, job store, dispatcher, metrics.

``create_app`` builds one ``Service`` and keeps it on ``app.state.service``; an endpoint gets
it as a parameter (``service: ServiceDep``), so no module holds state of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from docfleet.serve.dispatcher import Dispatcher
from docfleet.serve.limits import key_matches
from docfleet.serve.metrics import ServiceMetrics
from docfleet.serve.settings import ServeConfig
from docfleet.serve.store import JobStore


@dataclass(frozen=True)
class Service:
    """What the endpoints of one app work on."""

    config: ServeConfig
    store: JobStore
    dispatcher: Dispatcher
    metrics: ServiceMetrics


async def service_of(request: Request) -> Service:
    """The service of the app that took ``request``."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(service_of)]


def require_key(request: Request, service: ServiceDep) -> None:
    """401 unless the request carries the service's API key (when it has one)."""
    key = service.config.api_key
    if key and not key_matches(request.headers, key):
        raise HTTPException(401, "missing or wrong API key (X-Api-Key: KEY or "
                                 "Authorization: Bearer KEY)")  # fmt: skip


KEY_REQUIRED = (Depends(require_key),)  # ``dependencies=`` of every route but /healthz and /
