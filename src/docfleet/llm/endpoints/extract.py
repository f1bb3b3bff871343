"""``docfleet extract --endpoint``: each record's conversation with OpenAI-compatible servers.

The conversations are the local model's (:mod:`docfleet.llm.generation.conversation`): the same
prompts, turns, answer checks and repair turns, a repair sending the conversation so far with it.
The requests go through one :class:`~docfleet.llm.endpoints.pool.EndpointPool` that every server
pulls from; the final turn asks for the schema as ``response_format`` (a server that refuses it is
asked without). Answers are greedy (temperature 0), so a rerun gives the same lines.

Records run as conversations on threads, each blocking on its next answer; the lines come back
in input order through a bounded window: a record still waiting (a server backing off) holds
back at most ``WINDOW_PER_SLOT`` lines per request slot before new records wait for it.
"""

from __future__ import annotations

import base64
import io
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from docfleet.engine.results import ErrorInfo
from docfleet.llm.endpoints.chat_types import ChatRequest, ChatResult, EndpointSettings
from docfleet.llm.endpoints.state import SERVERS_DOWN, ServersDown
from docfleet.llm.generation.conversation import Conversation, Turns, answer_line, record_error_line

WINDOW_PER_SLOT = 8  # records started but not yet written, per request slot of the pool
THREADS_PER_SLOT = 2  # conversations per request slot: one waiting on a retry leaves it busy


def api_key(name: str | None, environ: Mapping[str, str]) -> str | None:
    """The key in the environment variable ``name`` (``None`` when no variable is named).

    >>> api_key("SERVER_KEY", {"SERVER_KEY": "sk-1"}), api_key(None, {})
    ('sk-1', None)
    """
    if name is None:
        return None
    key = environ.get(name, "").strip()
    if not key:
        raise ValueError(
            f"--api-key-env names {name}, which is not set or empty; export {name}=... first, "
            "or drop --api-key-env for servers that take no key"
        )
    return key


def endpoint_settings(config: Any, key: str | None = None, **more: Any) -> EndpointSettings:
    """The pool settings of an :class:`~docfleet.jobs.extract.job.ExtractConfig` with endpoints,
    and ``more`` of them; ``key`` defaults to the variable ``config.api_key_env`` names."""
    import os

    if key is None:
        key = api_key(config.api_key_env, os.environ)
    settings = {
        "concurrency": config.concurrency, "requests_per_minute": config.requests_per_minute,
        "tokens_per_minute": config.tokens_per_minute, "request_timeout": config.request_timeout,
        "give_up_after": config.give_up_after, "max_attempts": config.request_attempts,
        "cool_down": config.cool_down,
    }  # fmt: skip
    return EndpointSettings(
        tuple(config.endpoint), config.served_model, api_key=key, **{**settings, **more}
    )


class OnEndpoints:
    """The records' conversations with the servers of ``settings``, as output lines."""

    plan = None  # the servers place the model; nothing to plan here

    def __init__(self, settings: EndpointSettings, turns: Turns, config: Any) -> None:
        self.settings = settings
        self.turns = turns
        self.max_tokens = config.max_new_tokens
        self.dpi = config.dpi
        self.password = config.password
        self.progress = config.progress
        schema = turns.json_schema
        self.response_format = (
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
            if schema is not None
            else None
        )

    @contextmanager
    def lines(self, records: list[Any], report: Any) -> Iterator[Iterator[dict[str, Any]]]:
        """A line per record in input order; ``report.endpoints`` gets the pool's stats."""
        from docfleet.llm.endpoints.pool import EndpointPool

        slots = self.settings.concurrency * len(self.settings.urls)
        threads = ThreadPoolExecutor(THREADS_PER_SLOT * slots, thread_name_prefix="docfleet-chat")
        pool = EndpointPool(self.settings)
        ordered = self._ordered(records, threads, pool, WINDOW_PER_SLOT * slots)
        try:
            yield ordered
            report.endpoints = pool.stats()
        finally:  # interrupted: drop what has not started, answer what waits, then join
            ordered.close()
            threads.shutdown(wait=False, cancel_futures=True)
            pool.close()
            threads.shutdown(wait=True)

    def _ordered(
        self, records: list[Any], threads: ThreadPoolExecutor, pool: Any, window: int
    ) -> Iterator[dict[str, Any]]:
        from docfleet.engine.progress import ProgressBar, progress_enabled

        bar = ProgressBar(len(records), "records") if progress_enabled(self.progress) else None
        started: deque[Future[dict[str, Any]]] = deque()
        todo = iter(records)
        try:
            while True:
                while len(started) < window and (record := next(todo, None)) is not None:
                    started.append(threads.submit(self.line, pool, record))
                if not started:
                    return
                line = started.popleft().result()
                if (line.get("error") or {}).get("type") == SERVERS_DOWN:
                    raise ServersDown(line["error"]["message"])  # this line and the rest: undone
                if bar is not None:
                    bar.advance(line.get("endpoint") or "not sent", 1, line["status"] != "ok")
                yield line
        finally:
            for future in started:
                future.cancel()
            if bar is not None:
                bar.close()

    def line(self, pool: Any, record: Any) -> dict[str, Any]:
        """The output line of one record; never raises (a failure is an error line)."""
        if record.error:
            return record_error_line(record)
        start = time.perf_counter()
        chat: Conversation | None = None
        spent: dict[str, Any] = {"endpoint": "", "model": self.settings.model, "latency_s": 0.0,
                                 "attempts": 0}  # fmt: skip
        try:
            chat = self.turns.open(record.fields, self._image(record))
            while not chat.done:
                result = pool.chat(self._request(record.id, chat))
                _spend(spent, result)
                if not result.ok:
                    error = {"type": result.error_type, "message": result.error}
                    return self._failed(record, chat, spent, error)
                self.turns.advance(chat, result.text, tokens_in=result.prompt_tokens,
                                   tokens_out=result.completion_tokens)  # fmt: skip
        except Exception as exc:  # a page that cannot be read, a pool closed by an interrupt
            info = ErrorInfo.from_exception(exc)
            return self._failed(record, chat, spent, {"type": info.type, "message": info.message})
        value = self.turns.result(chat, time.perf_counter() - start)
        return {"id": record.id, "source": record.source, **answer_line(value), **spent}

    def _request(self, key: str, chat: Conversation) -> ChatRequest:
        messages: list[dict[str, Any]] = list(chat.messages)
        if chat.image is not None:  # the page goes with the first user message
            first = next(i for i, m in enumerate(messages) if m["role"] == "user")
            picture = {"type": "image_url", "image_url": {"url": chat.image}}
            text = {"type": "text", "text": messages[first]["content"]}
            messages[first] = {"role": "user", "content": [picture, text]}
        answer_format = self.response_format if self.turns.final(chat) else None
        return ChatRequest(key, messages, self.max_tokens, response_format=answer_format)

    def _image(self, record: Any) -> str | None:
        """The page a record names as a PNG data URL (OpenAI's image_url), or ``None``."""
        if getattr(record, "page", None) is None:
            return None
        from docfleet.llm.records.pages import page_image

        image = page_image(record.page, dpi=self.dpi, password=self.password)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def _failed(self, record: Any, chat: Conversation | None, spent: dict[str, Any],
                error: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        done = {"tokens_in": chat.tokens_in, "tokens_out": chat.tokens_out} if chat else {}
        return {"id": record.id, "source": record.source, "status": "error", "error": error,
                **done, **spent}  # fmt: skip


def _spend(spent: dict[str, Any], result: ChatResult) -> None:
    """Add one request's cost to a record's: the endpoint and model of its last answer."""
    if result.endpoint:
        spent["endpoint"] = result.endpoint
    spent["model"] = result.model or spent["model"]
    spent["latency_s"] = round(spent["latency_s"] + result.latency, 4)
    spent["attempts"] += result.attempts
