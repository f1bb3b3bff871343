"""The parts of one service that its routes share: settings, job store, dispatcher, metrics.

``create_app`` builds one ``Service`` and keeps it on ``app.state.service``; an endpoint gets
it as a parameter (``service: ServiceDep``), and the caller its key makes as ``caller:
CallerDep``, so no module holds state of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from docfleet.serve.access import Caller, Keys
from docfleet.serve.dispatcher import Dispatcher
from docfleet.serve.job import Job
from docfleet.serve.limits import given_key
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
    keys: Keys

    def find(self, job_id: str, caller: Caller) -> Job:
        """The job, if ``caller`` may see it; 404 otherwise (another key's job is not told
        apart from one that does not exist)."""
        job = self.store.get(job_id)
        if job is None or not caller.sees(job):
            raise HTTPException(404, f"no job {job_id}")
        return job


async def service_of(request: Request) -> Service:
    """The service of the app that took ``request``."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(service_of)]


def require_key(request: Request, service: ServiceDep) -> Caller:
    """The caller of a request: 401 unless it carries one of the service's keys (when it has
    any)."""
    caller = service.keys.caller(given_key(request.headers))
    if caller is None:
        raise HTTPException(401, "missing or wrong API key (X-Api-Key: KEY or "
                                 "Authorization: Bearer KEY)")  # fmt: skip
    return caller


CallerDep = Annotated[Caller, Depends(require_key)]
KEY_REQUIRED = (Depends(require_key),)  # ``dependencies=`` of every route but /healthz and /
