"""The settings, requests and results of :class:`~docfleet.llm.endpoints.pool.EndpointPool`.

An API key is part of the settings but never of their ``repr`` (nor are a URL's
``user:password@``): settings are shown in errors, logs and ``run.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, repr=False)
class EndpointSettings:
    """Where to send chat requests and how hard; ``api_key`` never shows in a repr or message."""

    urls: tuple[str, ...]  # base URLs as OpenAI clients take them: "http://gpu0:8000/v1"
    model: str  # the served model name
    api_key: str | None = None  # sent as "Authorization: Bearer ..."
    concurrency: int = 8  # requests in flight per endpoint
    requests_per_minute: float | None = None  # over all endpoints together
    tokens_per_minute: float | None = None  # prompt + completion, over all endpoints together
    request_timeout: float = 120.0  # seconds to connect, and the longest wait for answer bytes
    max_attempts: int = 5  # failed attempts before a request ends as an error
    backoff: float = 0.5  # base seconds of exponential backoff with full jitter
    cool_down: float = 30.0  # seconds out of rotation after FAILURES_IN_A_ROW failures
    give_up_after: float = 300.0  # seconds with requests waiting and no server answering

    def __post_init__(self) -> None:
        urls = (self.urls,) if isinstance(self.urls, str) else tuple(self.urls)
        object.__setattr__(self, "urls", tuple(u.strip().rstrip("/") for u in urls))
        if not self.urls:
            raise ValueError("no endpoint URL given; pass one or more, e.g. http://gpu0:8000/v1")
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"endpoint {url!r} must start with http:// or https://")
        if len(set(self.urls)) != len(self.urls):
            raise ValueError(f"an endpoint URL is given twice: {', '.join(self.urls)}")
        if not self.model:
            raise ValueError("no served model name given (the model the servers were started with)")
        key = self.api_key
        if key is not None and (not key or not key.isprintable() or any(c.isspace() for c in key)):
            raise ValueError("the API key must be one printable word (no spaces or line breaks)")
        for name in ("concurrency", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("requests_per_minute", "tokens_per_minute"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"{name} must be above 0 (or None for no limit)")
        if self.request_timeout <= 0 or self.backoff < 0 or self.cool_down < 0:
            raise ValueError("request_timeout must be above 0; backoff and cool_down at least 0")
        if self.give_up_after <= 0:
            raise ValueError(f"give_up_after must be above 0, not {self.give_up_after}")

    def __repr__(self) -> str:  # the settings that differ from the defaults, the key hidden
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("urls", "model") or value != f.default:
                text = "'***'" if f.name == "api_key" else repr(value)
                text = repr(tuple(map(shown_url, value))) if f.name == "urls" else text
                shown.append(f"{f.name}={text}")
        return f"EndpointSettings({', '.join(shown)})"


@dataclass
class ChatRequest:
    """One chat completion to ask for; ``key`` comes back on its result to match them up."""

    key: Any
    messages: list[dict[str, Any]]
    max_tokens: int
    response_format: dict[str, Any] | None = None  # e.g. {"type": "json_schema", ...}
    temperature: float = 0.0


@dataclass
class ChatResult:
    """The answer to one request, or why there is none (``ok`` False: error_type and error).

    ``error_type``: RateLimited, ServerError, Timeout, ConnectionError, MalformedResponse or
    Conflict once ``max_attempts`` attempts failed so; HTTPError for a refusal that a retry would
    not change (400, 401, 404...); InvalidRequest (not JSON); Closed (the pool closed first).
    ``latency`` is the seconds of the last HTTP exchange; ``attempts`` counts every exchange;
    ``retries_by_reason`` counts retries by ``RETRY_REASONS`` and resends without
    ``response_format`` as "no_response_format".
    """

    key: Any
    ok: bool
    text: str = ""
    error_type: str = ""
    error: str = ""
    endpoint: str = ""
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    attempts: int = 0
    retries_by_reason: dict[str, int] = field(default_factory=dict)
    finish_reason: str = ""  # "length": cut off by max_tokens


def shown_url(url: str) -> str:
    """A URL as results, stats and logs show it: without any user:password@ in it."""
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"
