"""Request limits enforced while the body streams in, and the API key a request carries.

A body over the limit is refused with 413 as soon as its declared length says so, or, for a
chunked body, as soon as the bytes read pass it: it is never held whole in memory (uploads are
spooled to disk by the multipart parser) and never read to its end.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: 413 for request bodies over ``limit`` bytes."""

    def __init__(self, app: App, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        over = False
        responded = False

        async def limited() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    return {"type": "http.disconnect"}  # the app stops reading here
            return message

        async def guarded(message: Message) -> None:
            nonlocal responded
            if over:
                return  # the app's own answer to the cut body is replaced by the 413
            responded = True
            await send(message)

        await self.app(scope, limited, guarded)
        if over and not responded:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        mb = self.limit / 1e6
        body = json.dumps(
            {"detail": f"request body over the {mb:g} MB limit (--max-upload-mb)"}
        ).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def given_key(headers: MutableMapping[str, str] | Any) -> str:
    """The API key a request carries as ``X-Api-Key`` or ``Authorization: Bearer`` ("" if
    none); :class:`docfleet.serve.access.Keys` compares it in constant time."""
    given = headers.get("x-api-key") or ""
    auth = headers.get("authorization") or ""
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return str(given)
