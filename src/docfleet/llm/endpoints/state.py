"""What an :class:`~docfleet.llm.endpoints.pool.EndpointPool` keeps per server and per request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docfleet.llm.endpoints.chat_replies import RETRY_REASONS
from docfleet.llm.endpoints.chat_types import ChatRequest, ChatResult, shown_url
from docfleet.llm.endpoints.rate_limit import Rotation

FAILURES_IN_A_ROW = 3  # failed requests in a row that take an endpoint out of rotation
FAILED_AS = {  # the error_type of a request whose attempts all failed, by the last reason
    "429": "RateLimited", "5xx": "ServerError", "timeout": "Timeout",
    "connection": "ConnectionError", "malformed": "MalformedResponse", "conflict": "Conflict",
}  # fmt: skip


class ServersDown(RuntimeError):
    """No server has answered for ``give_up_after`` seconds; the message names their errors."""


SERVERS_DOWN = "ServersDown"  # the error_type of requests ended because every server is down


@dataclass(eq=False)
class Job:
    """One request in the pool: who gets its result, its attempts and retries so far."""

    request: ChatRequest
    deliver: Callable[[ChatResult], None]  # called once, on the loop thread
    batch: Batch | None = None
    attempts: int = 0
    failures: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    done: bool = False


@dataclass
class Batch:
    """The jobs of one ``run()``; ``abandoned`` once its caller stops reading results."""

    abandoned: bool = False


class EndpointState:
    """One server: whether it is in rotation, and its counters. Touched on the loop thread."""

    def __init__(self, url: str, cool_down: float) -> None:
        self.chat_url = f"{url}/chat/completions"
        self.url = shown_url(url)
        self.takes_response_format = True
        self.rotation = Rotation(cool_down, failures=FAILURES_IN_A_ROW)
        self.counts = dict.fromkeys(("requests", "ok", "failed", "no_response_format"), 0)
        self.counts |= dict.fromkeys(("tokens_in", "tokens_out", "in_flight"), 0)
        self.retries = dict.fromkeys(RETRY_REASONS, 0)
        self.busy = 0.0
        self.last_error = ""

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.counts,
            "retries": dict(self.retries),
            "busy_seconds": round(self.busy, 3),
            "response_format": self.takes_response_format,
            "out_of_rotation": self.rotation.rests,
            "out_of_rotation_seconds": round(self.rotation.rested_seconds(), 3),
        }
