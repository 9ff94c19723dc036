"""The request body limit, enforced while the body is read (ASGI middleware).

A declared Content-Length over the limit is refused before a byte of the body is read; a body
without one (chunked) is counted as it arrives and refused the moment it passes the limit. Either
way the reply closes the connection, so the server does not go on reading (and discarding) the
rest. No route of the daemon takes more than a form or a JSON object; the central service uses
the same middleware with its own limit (ingest batches, central/web.py).
"""

from __future__ import annotations

import json

from queued.web.errors import ApiError

MAX_BODY = 64 * 1024
TOO_LARGE = "请求体过大（body larger than 64 KiB）"


class BodyTooLarge(ApiError):
    def __init__(self, message: str = TOO_LARGE):
        super().__init__("too_large", message, 413)


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser has refused it already
    return None


class BodyLimit:
    def __init__(self, app, limit: int = MAX_BODY, message: str = TOO_LARGE):
        self.app = app
        self.limit = limit
        self.message = message

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _declared_length(scope)
        if declared is not None and declared > self.limit:
            body = json.dumps({"error": {"code": "too_large", "message": self.message}}, ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        received = 0
        limit, refusal = self.limit, self.message

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(refusal)
            return message

        async def closing(message):
            # Refused mid-body: close instead of reading the rest of it for keep-alive.
            if message["type"] == "http.response.start" and message["status"] == 413:
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted, closing)
