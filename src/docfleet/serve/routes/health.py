"""``/metrics`` (Prometheus), ``/healthz`` (the process is up) and ``/readyz`` (the workers
have their models loaded)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from docfleet.serve.metrics import CONTENT_TYPE as METRICS_TYPE
from docfleet.serve.service import KEY_REQUIRED, ServiceDep

router = APIRouter()


@router.get("/metrics", dependencies=KEY_REQUIRED)
def prometheus(service: ServiceDep) -> Response:
    """Prometheus: pages by status and device, queue depth, jobs by status, busy seconds
    and readiness per worker, request latencies."""
    return Response(service.metrics.render(), media_type=METRICS_TYPE)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (open without the API key)."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=KEY_REQUIRED)
def readyz(service: ServiceDep) -> JSONResponse:
    """Every worker has loaded its models (503 until then, or after an engine error)."""
    state = service.dispatcher.readiness()
    return JSONResponse(state, status_code=200 if state["ready"] else 503)
