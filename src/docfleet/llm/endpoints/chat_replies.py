"""What a chat-completions server's HTTP response comes to: an answer, a retry, or a refusal.

Servers differ in how they answer and fail (vLLM, TGI, llama.cpp, hosted APIs): error bodies
as ``{"error": {"message"}}``, ``{"detail"}`` or text; 400 or 422 when a server does not take
``response_format``; answers without ``usage``. This module reads them all into one shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from docfleet.llm.endpoints.rate_limit import retry_after

RETRY_REASONS = ("429", "5xx", "timeout", "connection", "malformed", "conflict")
_FORMAT_MARKERS = ("response_format", "json_schema", "guided")  # a 400 that means "unsupported"


@dataclass
class Reply:
    """What one HTTP exchange came to: an answer, a failure worth retrying, or a refusal."""

    kind: str  # "ok", "retry", "fatal", or "no_response_format" (a 400 about it)
    reason: str = ""  # of a retry: one of RETRY_REASONS
    error_type: str = ""
    message: str = ""
    text: str = ""
    model: str = ""
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_known: bool = False
    retry_after: float | None = None
    latency: float = 0.0

    def tokens(self, estimate: int) -> int:
        """What the exchange costs against tokens_per_minute: the server's count when it gave
        one; else the estimate where the server may have done the work, else nothing."""
        if self.usage_known:
            return self.prompt_tokens + self.completion_tokens
        return estimate if self.kind == "ok" or self.reason in ("timeout", "connection") else 0


def read_reply(status: int, headers: Mapping[str, str], content: bytes) -> Reply:
    """Classify a server's HTTP response to a chat-completions request."""
    if 200 <= status < 300:
        return _read_answer(content)
    message = f"HTTP {status}: {server_message(content)}"
    reason = {429: "429", 408: "timeout", 409: "conflict"}.get(
        status, "5xx" if status >= 500 else ""
    )
    if reason:
        return Reply("retry", reason, message=message, retry_after=retry_after(headers))
    text = content.decode("utf-8", "replace").lower()
    if status in (400, 422) and any(marker in text for marker in _FORMAT_MARKERS):
        return Reply("no_response_format", error_type="HTTPError", message=message)
    return Reply("fatal", error_type="HTTPError", message=message)


def _read_answer(content: bytes) -> Reply:
    try:
        data = json.loads(content)
    except ValueError:
        start = content[:80].decode("utf-8", "replace")
        return Reply("retry", "malformed", message=f"an answer that is not JSON: {trim(start)}")
    choices = data.get("choices") if isinstance(data, dict) else None
    if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
        return Reply("retry", "malformed", message="an answer without choices")
    message = choices[0].get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        return Reply("retry", "malformed", message="an answer without message content")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    known = isinstance(prompt, int) and isinstance(completion, int)
    return Reply(
        "ok", text=text, model=str(data.get("model") or ""),
        finish_reason=str(choices[0].get("finish_reason") or ""), usage_known=known,
        prompt_tokens=prompt if known else 0, completion_tokens=completion if known else 0,
    )  # fmt: skip


def transport_failure(exc: BaseException, timeout: float) -> Reply:
    """A failure with no HTTP response: a timeout, a refused or dropped connection."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return Reply(
            "retry",
            "timeout",
            message=f"{type(exc).__name__}: no progress in {timeout:g}s (request_timeout)",
        )
    if isinstance(exc, httpx.DecodingError):
        return Reply("retry", "malformed", message=f"an undecodable answer: {exc}")
    return Reply("retry", "connection", message=trim(f"{type(exc).__name__}: {exc}"))


def server_message(content: bytes) -> str:
    """The message in an error body ({"error": {"message": ...}}, {"detail": ...}, text)."""
    text = content.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return trim(text) or "(no message)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail") or error
        found = error if isinstance(error, str) else data.get("detail") or data.get("message")
        if found:
            return trim(str(found))
    return trim(text)


def trim(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
