"""A real chat-completions server on loopback whose answers are scripted, for endpoint tests.

A request's last user message picks its script: ``"a|429,ok"`` is answered 429 the first time
it arrives and normally the second, whichever server it reaches. A message without ``|``
gets the server's default answer. Actions: ``ok`` (the answer: ``answer(body)``, by default
an echo of the message), ``slow`` (``ok`` after ``slow`` seconds), ``429`` (Retry-After: 1),
``500``, ``badjson``, ``nochoices``, ``drop`` (the connection closed without a word),
``400`` (a context-length refusal), ``400format`` and ``401echo`` (quotes the credentials).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _echo(body: dict[str, Any]) -> str:
    return f"echo: {message_text(body['messages'][-1]['content'])}"


def message_text(content: Any) -> str:
    """The text of a message: its content, or the text parts of a multi-part one."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


@dataclass
class Arrival:
    at: float
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def content(self) -> str:
        return message_text(self.body["messages"][-1]["content"])


class ChatServer:
    """POST /v1/chat/completions on 127.0.0.1, recording each request and what is in flight."""

    def __init__(self, *, default: str = "ok", delay: float = 0.0, slow: float = 1.0,
                 reject_format: bool = False,
                 answer: Callable[[dict[str, Any]], str] | None = None) -> None:  # fmt: skip
        self.default, self.delay, self.slow = default, delay, slow
        self.reject_format = reject_format
        self.answer = answer or _echo
        self.arrivals: list[Arrival] = []
        self.in_flight = self.max_in_flight = 0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"chat": self})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def action(self, body: dict[str, Any]) -> str:
        content = message_text(body["messages"][-1]["content"])
        with self._lock:
            self.arrivals.append(Arrival(time.monotonic(), {}, body))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            n = self._seen[content]
            self._seen[content] += 1
        if self.reject_format and "response_format" in body:
            return "400format"
        if "|" not in content:
            return self.default
        script = content.split("|", 1)[1].split(",")
        return script[min(n, len(script) - 1)]

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    chat: ChatServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        action = self.chat.action(body)
        self.chat.arrivals[-1].headers.update(self.headers.items())
        try:
            self._answer(action, body)
        except OSError:  # the client gave up first (a timeout): nothing to answer
            self.close_connection = True
        finally:
            self.chat.done()

    def _answer(self, action: str, body: dict[str, Any]) -> None:
        if action == "drop":  # close the socket without a word
            self.close_connection = True
            return
        if action == "slow":
            time.sleep(self.chat.slow)
        time.sleep(self.chat.delay)
        if action in ("ok", "slow"):
            answer = {
                "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": self.chat.answer(body)}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            }  # fmt: skip
            self._send(200, json.dumps(answer))
        elif action == "429":
            self._send(429, '{"error": {"message": "slow down"}}', {"Retry-After": "1"})
        elif action == "500":
            self._send(500, '{"error": {"message": "engine died"}}')
        elif action == "badjson":
            self._send(200, '{"choices": [{"message": ')
        elif action == "nochoices":
            self._send(200, '{"choices": []}')
        elif action == "400":
            message = "This model's maximum context length is 10 tokens. " + "x" * 2000
            self._send(400, json.dumps({"error": {"message": message, "type": "invalid"}}))
        elif action == "400format":
            message = "response_format is not supported by this server"
            self._send(400, json.dumps({"error": {"message": message}}))
        elif action == "401echo":  # a careless server quoting the credentials it refused
            refused = self.headers.get("Authorization", "")
            self._send(401, json.dumps({"error": {"message": f"bad credentials: {refused}"}}))
        else:
            raise AssertionError(f"unknown action {action}")

    def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Servers:
    """Starts chat servers and closes them all at the end::

    with Servers() as start:
        fast, slow = start(), start(delay=0.4)
    """

    def __init__(self) -> None:
        self.started: list[ChatServer] = []

    def __enter__(self) -> Callable[..., ChatServer]:
        return self.start

    def start(self, **options: Any) -> ChatServer:
        self.started.append(ChatServer(**options))
        return self.started[-1]

    def __exit__(self, *exc: object) -> None:
        for server in self.started:
            server.close()
