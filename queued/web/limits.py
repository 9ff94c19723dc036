"""The request body limit, enforced while the body is read.

A declared Content-Length over the limit is refused before a byte of the body is read; a body
without one (chunked) is counted as it arrives and refused the moment it passes the limit. Either
way the reply closes the connection, so the server does not go on reading (and discarding) the
rest. No route of the daemon takes more than a form or a JSON object; the central service uses
the same rule with its own limit (ingest batches, central/web.py). A declared length within the
limit needs nothing more: the HTTP parser never hands the app more than it declared. The ASGI
layer that applies this is `queued.web.edge.Edge`.
"""

from __future__ import annotations

import json

from queued.web.errors import ApiError

MAX_BODY = 64 * 1024
TOO_LARGE = "请求体过大（body larger than 64 KiB）"


class BodyTooLarge(ApiError):
    def __init__(self, message: str = TOO_LARGE):
        super().__init__("too_large", message, 413)


async def refuse_declared(send, message: str) -> None:
    """413 for a declared length over the limit, closing the connection (the body is never read)."""
    body = json.dumps({"error": {"code": "too_large", "message": message}}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def counting(receive, send, limit: int, message: str):
    """(receive, send) for a body of unknown length: counted as it arrives (BodyTooLarge past the
    limit, which the app's error handler answers 413) and the 413 closes the connection."""
    received = 0

    async def counted():
        nonlocal received
        msg = await receive()
        if msg["type"] == "http.request":
            received += len(msg.get("body", b""))
            if received > limit:
                raise BodyTooLarge(message)
        return msg

    async def closing(msg):
        # Refused mid-body: close instead of reading the rest of it for keep-alive.
        if msg["type"] == "http.response.start" and msg["status"] == 413:
            msg = {**msg, "headers": [*msg.get("headers", ()), (b"connection", b"close")]}
        await send(msg)

    return counted, closing
