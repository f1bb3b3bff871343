"""``GET /metrics``: Prometheus figures of one service, in a registry of its own.

Counted as they happen: pages by status and device, request latencies by route. Read when
scraped: pages waiting, jobs by status, each worker's busy seconds and pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServiceMetrics:
    """The service's metrics; ``dispatcher`` and ``store`` are read at scrape time."""

    def __init__(self, dispatcher: Any, store: Any) -> None:
        self.registry = CollectorRegistry()
        self.pages = Counter(
            "docfleet_pages", "Pages written, by status and device", ["status", "device"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "docfleet_request_seconds", "HTTP request latency by method, route and status",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.registry.register(_Live(dispatcher, store))

    def page(self, record: dict[str, Any]) -> None:
        self.pages.labels(record.get("status", "error"), record.get("device") or "none").inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Live:
    """Figures read when scraped."""

    def __init__(self, dispatcher: Any, store: Any) -> None:
        self.dispatcher = dispatcher
        self.store = store

    def collect(self) -> Iterator[Any]:
        waiting = GaugeMetricFamily("docfleet_queue_pages", "Pages waiting for a worker")
        waiting.add_metric([], self.dispatcher.waiting_pages())
        yield waiting
        jobs = GaugeMetricFamily("docfleet_jobs", "Jobs by status", labels=["status"])
        counts: dict[str, int] = {}
        for job in self.store.jobs():
            counts[job.status] = counts.get(job.status, 0) + 1
        for status in ("queued", "running", "done", "failed", "cancelled"):
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        busy = CounterMetricFamily(
            "docfleet_worker_busy_seconds", "Seconds each worker spent on pages",
            labels=["device", "replica"],
        )  # fmt: skip
        ready = GaugeMetricFamily(
            "docfleet_worker_ready", "1 when the worker has its models loaded",
            labels=["device", "replica"],
        )  # fmt: skip
        for worker in self.dispatcher.readiness()["workers"]:
            labels = [worker["device"], str(worker["replica"])]
            busy.add_metric(labels, worker["busy_seconds"])
            ready.add_metric(labels, 1 if worker["ready"] else 0)
        yield busy
        yield ready
