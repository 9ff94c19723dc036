"""A small HTTP/1.1 client for what the hall daemon sends out on its own event loop: the provincial
push (evaluator/province) and the journal shipper (queued/central_link). POST on a kept-alive
connection, the answer parsed by httptools (C, the parser uvicorn serves the hall with).

Why not httpx: both run on the hall's loop, and httpx's stack (httpcore, anyio cancel scopes,
sniffio) cost ~1.3 ms of the loop's CPU per request here, which showed as call→LED latency while
a backlog drained (bench_province.py) or a busy hall shipped (bench_led.py --central). This does
one request at a time per connection (each sender has one in flight), ~0.1 ms. No proxy or netrc
from the environment, no redirects: nothing but the configured URL decides where hall data goes.

Errors are ConnectFailed (no connection: never sent), other OSError (reset, closed mid-answer),
or HttpError (an answer that is not HTTP); `written` says whether the request went out, for a
time-out around the call. `transport.post` says what each means for delivery.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

import httptools

MAX_ANSWER = 4 * 1024 * 1024  # a platform's answer is a small JSON; more is not an answer
IDLE_S = 4.0  # a kept connection idle longer is not reused: uvicorn closes its own after 5 s


class HttpError(Exception):
    pass


class ConnectFailed(OSError):
    """No connection: the request was never sent."""


class _Stale(Exception):
    """The connection ended before any byte of an answer."""


class _Answer:
    def __init__(self):
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.size = 0
        self.done = False
        self.keep_alive = False
        self.headers: dict[bytes, bytes] = {}

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it once the message ends

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_ANSWER:
            raise HttpError("answer larger than 4 MiB")
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class Http11Client:
    """`await post(url, content, headers, timeout_s)` → (status, body bytes)."""

    def __init__(self, user_agent: str = "queued/1", headers: dict[str, str] | None = None):
        self.user_agent = user_agent
        self.headers = dict(headers or {})  # sent with every request
        self._idle: dict[tuple, tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = {}
        self._tls: ssl.SSLContext | None = None
        self.written = False  # whether the last post() got as far as sending its request

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        key = (parts.scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if port == (443 if tls else 80) else f"{parts.hostname}:{port}"
        lines = [f"POST {target} HTTP/1.1", f"Host: {host}", f"User-Agent: {self.user_agent}",
                 f"Content-Length: {len(content)}", "Connection: keep-alive"]
        lines += [f"{k}: {v}" for k, v in {**self.headers, **headers}.items()
                  if k.lower() not in ("host", "content-length", "connection")]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content
        self.written = False
        reader, writer, reused = await self._connection(key, tls)
        try:
            return await self._exchange(key, reader, writer, request)
        except _Stale:
            if not reused:
                raise ConnectionResetError("the server closed the connection without an answer") from None
        # A kept connection the server had closed while idle: nothing of an answer came, so it
        # never took the request. Once more, on a fresh connection.
        self.written = False
        reader, writer, _ = await self._connection(key, tls)
        try:
            return await self._exchange(key, reader, writer, request)
        except _Stale:
            raise ConnectionResetError("the server closed the connection without an answer") from None

    async def _exchange(self, key, reader, writer, request: bytes) -> tuple[int, bytes]:
        try:
            writer.write(request)
            self.written = True
            answer = _Answer()
            got = 0
            while not answer.done:
                try:
                    chunk = await reader.read(65536)
                except ConnectionError:
                    if got == 0:
                        raise _Stale() from None
                    raise
                if not chunk:
                    if got == 0:
                        raise _Stale()
                    if answer.headers and b"content-length" not in answer.headers and \
                            b"transfer-encoding" not in answer.headers:
                        break  # the body ends with the connection (HTTP/1.0 style)
                    raise ConnectionResetError("the server closed the connection mid-answer")
                got += len(chunk)
                try:
                    answer.parser.feed_data(chunk)
                except httptools.HttpParserError as exc:
                    raise HttpError(f"not an HTTP answer ({exc})") from None
        except BaseException:
            writer.close()
            raise
        status = answer.parser.get_status_code()
        if answer.done and answer.keep_alive:
            self._idle[key] = (reader, writer, asyncio.get_running_loop().time())
        else:
            writer.close()
        return status, b"".join(answer.body)

    async def _connection(self, key: tuple, tls: bool):
        kept = self._idle.pop(key, None)
        if kept is not None:
            reader, writer, since = kept
            if asyncio.get_running_loop().time() - since < IDLE_S and not reader.at_eof() \
                    and not writer.is_closing():
                return reader, writer, True
            writer.close()
        if tls and self._tls is None:
            self._tls = ssl.create_default_context()
        try:
            reader, writer = await asyncio.open_connection(key[1], key[2], ssl=self._tls if tls else None,
                                                           limit=MAX_ANSWER)
            return reader, writer, False
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake
            raise ConnectFailed(exc.errno, f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for _, writer, _ in idle.values():
            writer.close()
