"""OpenAI-compatible chat-completions servers as one pool: shared queue, limits, retries, rests.

``EndpointPool`` sends chat requests to servers that speak ``POST {url}/chat/completions``
(vLLM, TGI, llama.cpp, hosted APIs). Every server pulls from one queue as it has free slots,
so a slow server takes less work. Failures (429, 5xx, timeouts, dropped connections, malformed
answers) are retried with backoff on whichever server is free next; a server that fails
``FAILURES_IN_A_ROW`` requests in a row is taken out of rotation for ``cool_down`` seconds.
When no server has answered anything for ``give_up_after`` seconds while requests wait, every
server is down: each waiting and later request ends at once as a ``ServersDown`` error.
An asyncio loop in one background thread does the I/O; callers see blocking calls.

>>> EndpointSettings(["http://gpu0:8000/v1/"], model="qwen", api_key="sk-secret")
EndpointSettings(urls=('http://gpu0:8000/v1',), model='qwen', api_key='***')
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from docfleet.llm.endpoints.chat_replies import (
    Reply,
    read_reply,
    transport_failure,
)
from docfleet.llm.endpoints.chat_types import ChatRequest, ChatResult, EndpointSettings
from docfleet.llm.endpoints.rate_limit import RateLimit, backoff_delay
from docfleet.llm.endpoints.state import (
    FAILED_AS,
    FAILURES_IN_A_ROW,
    SERVERS_DOWN,
    Batch,
    EndpointState,
    Job,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)
_END = object()


class EndpointPool:
    """Chat requests over OpenAI-compatible servers, with shared limits, retries and rests.

    ``run`` streams many requests (results as they complete, each request exactly once);
    ``chat`` asks one and blocks, from any thread. Both share the slots, limits and rests::

        settings = EndpointSettings(("http://gpu0:8000/v1", "http://gpu1:8000/v1"), "qwen")
        with EndpointPool(settings) as pool:
            asks = (ChatRequest(i, [{"role": "user", "content": t}], 256) for i, t in rows)
            for result in pool.run(asks):
                print(result.key, result.text if result.ok else result.error)
    """

    def __init__(self, settings: EndpointSettings) -> None:
        self.settings = settings
        self._endpoints = [EndpointState(url, settings.cool_down) for url in settings.urls]
        self._lock = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EndpointPool({self.settings!r})"

    def __enter__(self) -> EndpointPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self, requests: Iterable[ChatRequest], *, ahead: int | None = None
    ) -> Iterator[ChatResult]:
        """A result per request, as each completes. At most ``ahead`` requests (default: twice
        the slots of all endpoints) are read from ``requests`` before their results are taken,
        and ``requests`` is only read from the calling thread."""
        if ahead is not None and ahead < 1:
            raise ValueError(f"ahead must be at least 1, not {ahead}")
        limit = ahead or 2 * self.settings.concurrency * len(self._endpoints)
        results: queue.SimpleQueue[ChatResult] = queue.SimpleQueue()
        batch = Batch()
        source, exhausted, waiting = iter(requests), False, 0
        try:
            while True:
                while not exhausted and waiting < limit:
                    request = next(source, _END)
                    if request is _END:
                        exhausted = True
                        break
                    self._submit(request, results.put, batch)
                    waiting += 1
                if not waiting:
                    return
                result = results.get()
                waiting -= 1
                yield result
        finally:
            batch.abandoned = True  # what is still queued is skipped

    def chat(self, request: ChatRequest) -> ChatResult:
        """One request's result, blocking; safe from many threads at once."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("chat() cannot be called from the pool's own I/O thread")
        answer: concurrent.futures.Future[ChatResult] = concurrent.futures.Future()
        self._submit(request, answer.set_result, None)
        return answer.result()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per endpoint URL: requests sent, ok, failed, retries by reason, no_response_format,
        tokens in and out, in flight, busy seconds (summed over slots), and the times it was
        taken out of rotation and for how many seconds."""

        async def snapshot() -> dict[str, dict[str, Any]]:
            return self._snapshot()

        with self._lock:  # scheduled before any shutdown, so it runs
            if self._closed or self._loop is None:
                return self._snapshot()
            taken = asyncio.run_coroutine_threadsafe(snapshot(), self._loop)
        return taken.result()

    def close(self) -> None:
        """Answer what is still waiting with a ``Closed`` error, close connections, stop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    # --- caller threads -------------------------------------------------------------------

    def _submit(self, request: ChatRequest, deliver: Callable[[ChatResult], None],
                batch: Batch | None) -> None:  # fmt: skip
        if not isinstance(request, ChatRequest):
            raise TypeError(f"requests must be ChatRequest objects, not {type(request).__name__}")
        job = Job(request, deliver, batch)
        with self._lock:
            if self._closed:
                raise RuntimeError("this EndpointPool is closed; open a new one")
            if self._loop is None:
                self._start()
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._enqueue, job, 1)

    def _start(self) -> None:
        """The I/O thread and its loop; made on first use so a pool costs nothing until then."""
        try:
            import httpx  # noqa: F401
        except ImportError:
            raise ImportError(
                "EndpointPool needs httpx: pip install 'docfleet[endpoints]'"
            ) from None
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="docfleet-endpoints",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        self._loop = loop
        asyncio.run_coroutine_threadsafe(self._setup(), loop).result()

    # --- the loop thread ------------------------------------------------------------------

    async def _setup(self) -> None:
        import httpx

        s = self.settings
        slots = s.concurrency * len(self._endpoints)
        headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
        self._client: httpx.AsyncClient = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(s.request_timeout),
            limits=httpx.Limits(max_connections=slots, max_keepalive_connections=slots),
        )  # fmt: skip
        self._queue: asyncio.PriorityQueue[tuple[int, int, Job]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._pending: set[Job] = set()
        self._rng = random.Random()
        self._requests = RateLimit(s.requests_per_minute) if s.requests_per_minute else None
        self._tokens = RateLimit(s.tokens_per_minute) if s.tokens_per_minute else None
        self._last_answer = time.monotonic()
        self._down = ""  # why every server is down, once no server answered for give_up_after
        self._workers = [
            asyncio.create_task(self._serve(endpoint))
            for endpoint in self._endpoints
            for _ in range(s.concurrency)
        ]
        self._workers.append(asyncio.create_task(self._watch()))

    async def _shutdown(self) -> None:
        # cancel until they stop: before 3.12 a wait_for finishing as the cancel arrives drops it
        while running := [task for task in self._workers if not task.done()]:
            for task in running:
                task.cancel()
            await asyncio.wait(running, timeout=0.1)
        for job in list(self._pending):
            self._finish(job, self._error(job, None, "Closed", "the pool was closed first"))
        await self._client.aclose()

    def _enqueue(self, job: Job, priority: int) -> None:
        """Queue a job: retries (priority 0) go before new requests (priority 1)."""
        if job.done:
            return  # ended while its retry waited (every server down)
        if self._down:
            self._finish(job, self._error(job, None, SERVERS_DOWN, self._down))
            return
        self._pending.add(job)
        self._queue.put_nowait((priority, next(self._order), job))

    async def _watch(self) -> None:
        """Every server down: no answer for ``give_up_after`` seconds while jobs wait and none
        is in flight (a slow answer on its way is no outage; a request that never gets one ends
        at ``request_timeout``). Then every waiting job ends as a ``ServersDown`` error, and so
        does every later one."""
        give_up = self.settings.give_up_after
        while not self._down:
            await asyncio.sleep(min(1.0, give_up / 4))
            working = any(e.counts["in_flight"] for e in self._endpoints)
            if not self._pending or working:  # idle, or a request still on its way: not down
                self._last_answer = time.monotonic()
            elif time.monotonic() - self._last_answer > give_up:
                errors = "; ".join(f"{e.url}: {e.last_error or 'no answer'}"
                                   for e in self._endpoints)  # fmt: skip
                self._down = (f"no server has answered for {give_up:g} s, every one is down "
                              f"({errors})")  # fmt: skip
                log.error("%s", self._down)
                for job in list(self._pending):
                    self._finish(job, self._error(job, None, SERVERS_DOWN, self._down))

    async def _serve(self, endpoint: EndpointState) -> None:
        """One of an endpoint's slots: take the next job whenever the endpoint is in rotation."""
        while True:
            await endpoint.rotation.wait()
            entry = await self._queue.get()
            job = entry[2]
            if job.done or (job.batch is not None and job.batch.abandoned):
                self._pending.discard(job)
            elif endpoint.rotation.resting():  # taken out while this slot waited
                self._queue.put_nowait(entry)
            else:
                try:
                    await self._attempt(endpoint, job)
                except Exception as exc:  # a bug must not leave a caller waiting forever
                    log.exception("chat request failed unexpectedly")
                    self._finish(job, self._error(job, endpoint, type(exc).__name__, str(exc)))

    async def _attempt(self, endpoint: EndpointState, job: Job) -> None:
        """Send a job once to ``endpoint``; finish it, or queue its retry."""
        request = job.request
        send_format = request.response_format is not None and endpoint.takes_response_format
        try:
            body = json.dumps(self._body(request, send_format)).encode()
        except (TypeError, ValueError) as exc:
            message = f"the request cannot be sent as JSON: {exc}"
            self._finish(job, self._error(job, None, "InvalidRequest", message))
            return
        estimate = request.max_tokens + _prompt_chars(request.messages) // 4
        if self._requests is not None:
            await self._requests.acquire(1)
        if self._tokens is not None:
            await self._tokens.acquire(estimate)
        reply = await self._exchange(endpoint, body)
        job.attempts += 1
        if self._tokens is not None:
            self._tokens.settle(estimate, reply.tokens(estimate))
        if reply.kind == "ok":
            self._answered(endpoint, job, reply)
            return
        endpoint.counts["failed"] += 1
        if reply.kind == "no_response_format" and send_format:
            self._last_answer = time.monotonic()  # it answered: it is up
            if endpoint.takes_response_format:  # the first of the requests in flight to learn it
                log.info("%s does not take response_format; sending without it", endpoint.url)
            endpoint.takes_response_format = False
            endpoint.counts["no_response_format"] += 1
            job.retries["no_response_format"] = job.retries.get("no_response_format", 0) + 1
            self._enqueue(job, 0)  # at once, and not counted as a failed attempt
        elif reply.kind in ("fatal", "no_response_format"):
            endpoint.rotation.answered()  # the server works; the request does not
            self._last_answer = time.monotonic()
            self._finish(job, self._error(job, endpoint, reply.error_type, reply.message))
        else:
            self._retry(endpoint, job, reply)

    async def _exchange(self, endpoint: EndpointState, body: bytes) -> Reply:
        import httpx

        endpoint.counts["requests"] += 1
        endpoint.counts["in_flight"] += 1
        start = time.monotonic()
        try:  # request_timeout bounds each step: connecting, sending, every wait for bytes
            response = await self._client.post(
                endpoint.chat_url, content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            reply = transport_failure(exc, self.settings.request_timeout)
        else:
            reply = read_reply(response.status_code, response.headers, response.content)
        finally:
            endpoint.counts["in_flight"] -= 1
        reply.latency = time.monotonic() - start
        endpoint.busy += reply.latency
        reply.message = self._scrub(f"{reply.message} (from {endpoint.url})")
        return reply

    def _answered(self, endpoint: EndpointState, job: Job, reply: Reply) -> None:
        endpoint.rotation.answered()
        self._last_answer = time.monotonic()
        endpoint.counts["ok"] += 1
        endpoint.counts["tokens_in"] += reply.prompt_tokens
        endpoint.counts["tokens_out"] += reply.completion_tokens
        self._finish(job, ChatResult(
            job.request.key, True, reply.text, endpoint=endpoint.url,
            model=reply.model or self.settings.model, prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens, latency=reply.latency,
            attempts=job.attempts, retries_by_reason=dict(job.retries),
            finish_reason=reply.finish_reason,
        ))  # fmt: skip

    def _retry(self, endpoint: EndpointState, job: Job, reply: Reply) -> None:
        s = self.settings
        endpoint.last_error = reply.message
        if reply.reason == "429":  # busy is not down: it answers, asking to wait
            self._last_answer = time.monotonic()
        if endpoint.rotation.failed():
            log.warning("%s failed %d requests in a row (last: %s); out of rotation for %gs",
                        endpoint.url, FAILURES_IN_A_ROW, reply.message, s.cool_down)  # fmt: skip
        job.failures += 1
        if job.failures >= s.max_attempts:
            message = f"{job.failures} attempts failed (max_attempts); the last: {reply.message}"
            self._finish(job, self._error(job, endpoint, FAILED_AS[reply.reason], message))
            return
        job.retries[reply.reason] = job.retries.get(reply.reason, 0) + 1
        endpoint.retries[reply.reason] += 1
        delay = max(backoff_delay(s.backoff, job.failures, self._rng), reply.retry_after or 0.0)
        log.debug("retrying in %.2fs after %s", delay, reply.message)
        asyncio.get_running_loop().call_later(delay, self._enqueue, job, 0)

    def _finish(self, job: Job, result: ChatResult) -> None:
        self._pending.discard(job)
        if not job.done:  # an attempt in flight when every server was declared down ends twice
            job.done = True
            job.deliver(result)

    def _error(
        self, job: Job, endpoint: EndpointState | None, kind: str, message: str
    ) -> ChatResult:
        return ChatResult(
            job.request.key, False, error_type=kind, error=self._scrub(message),
            endpoint=endpoint.url if endpoint else "", model=self.settings.model,
            attempts=job.attempts, retries_by_reason=dict(job.retries),
        )  # fmt: skip

    def _body(self, request: ChatRequest, send_format: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if send_format:
            body["response_format"] = request.response_format
        return body

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key else text

    def _snapshot(self) -> dict[str, dict[str, Any]]:
        return {endpoint.url: endpoint.snapshot() for endpoint in self._endpoints}


def _prompt_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of text in a conversation (text parts of multi-part messages included)."""
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(p.get("text") or "") for p in content if isinstance(p, dict))
    return total
