"""The HTTP server around the app: the listening socket, bound before anything else starts, and
uvicorn with what it lacks against slow or hostile clients. Shared by the hall daemon and the
central service (central/service.py).

- The socket is bound first, so a taken port ends the start at once with the address named
  (uvicorn's own failure exits from inside a task and left the daemon hanging, deaf to SIGTERM).
- uvicorn's httptools protocol has no header or body timeout: a client that opens connections and
  sends a byte now and then holds them forever (slowloris). `DeadlineProtocol` gives every request
  REQUEST_READ_TIMEOUT_S from its first byte (or from the connection, for a silent one) to arrive
  whole; then it is answered 408 and the connection closed. Between requests uvicorn's keep-alive
  timeout applies.
- Errors: Starlette answers an unhandled error with our 500 and then re-raises it for the server
  to log; `LoggedErrors` logs it once here instead of a traceback from each of them.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

from prometheus_client.core import CounterMetricFamily
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from queued.errors import StartupError

log = logging.getLogger("queued.web")

REQUEST_READ_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5.0
BACKLOG = 2048
_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 16\r\n"
        b"connection: close\r\n\r\nrequest too slow")


HINT = "set [daemon] http or QUEUED_HTTP to another HOST:PORT"


def bind(host: str, port: int, hint: str = HINT) -> socket.socket:
    """The HTTP listening socket, or a StartupError naming the address (and `hint`: which setting
    moves it; the central service passes its own)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = "the port is already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise StartupError(f"cannot listen on {host}:{port}: {why}; {hint}") from None
    sock.setblocking(False)
    return sock


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for reading each request whole.

    A request only notes when it began; the connection's one timer looks when it fires and goes
    back to sleep until the deadline of whatever request is then in progress. So a fast request
    costs a clock read, not a timer armed and cancelled (a heap push per request on the durable
    issue path)."""

    dropped = 0  # requests dropped for being too slow, in this process

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._began: float | None = None  # when the request being read began, None between requests

    def _arm(self) -> None:
        if self._began is None:  # the first request of a connection counts from the connection
            self._began = self.loop.time()
        if self._deadline is None:
            self._deadline = self.loop.call_at(self._began + REQUEST_READ_TIMEOUT_S, self._look)

    def _look(self) -> None:
        self._deadline = None
        if self._began is None:
            return  # between requests: the next one arms it again (keep-alive has its own timeout)
        due = self._began + REQUEST_READ_TIMEOUT_S
        if self.loop.time() >= due:
            self._too_slow()
        else:
            self._deadline = self.loop.call_at(due, self._look)

    def _disarm(self) -> None:
        self._began = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is a request that never comes

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._began = None  # whole: the timer, when it looks, finds nothing to drop
        super().on_message_complete()

    def _too_slow(self) -> None:
        self._began = None
        if self.transport.is_closing():
            return
        DeadlineProtocol.dropped += 1
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(_408)
        log.warning("dropped a request from %s that was not whole after %.0f s", (self.client or ("?",))[0],
                    REQUEST_READ_TIMEOUT_S)
        self.transport.close()  # the app, if it was reading the body, sees the client gone


class LoggedErrors:
    """Outermost ASGI layer: an error the app let out is logged once, here, and not re-raised into
    the server (which would log it again with the same traceback)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        try:
            await self.app(scope, receive, send)
        except Exception:
            if scope["type"] == "http":
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            else:
                raise


class ServerCollector:
    def collect(self):
        dropped = CounterMetricFamily("queued_http_slow_requests_dropped", "Requests not whole within "
                                      f"{REQUEST_READ_TIMEOUT_S:.0f} s of their first byte (408, connection closed)")
        dropped.add_metric([], DeadlineProtocol.dropped)
        yield dropped


async def start_serving(app, sock: socket.socket, host: str, port: int, hint: str = HINT,
                        trusted_proxies: tuple[str, ...] = ()):
    """uvicorn on the bound socket, SIGINT/SIGTERM asking it to stop (the caller owns the signals).
    Returns (server, task) once it listens; a StartupError naming the address if it cannot."""
    import signal

    import uvicorn

    server = uvicorn.Server(uvicorn_config(app, host, port, trusted_proxies))
    server.install_signal_handlers = lambda: None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if task.done() and not server.started:
        try:
            await task
        except SystemExit:  # uvicorn exits from inside its task when it cannot start
            pass
        raise StartupError(f"cannot listen on {host}:{port}: the port is taken or not allowed; {hint}")
    return server, task


async def report_repeats(every_s: float = 10.0) -> None:
    """Errors that repeat are logged once; say every so often how often (queued/logs.py)."""
    from queued import logs

    while True:
        await asyncio.sleep(every_s)
        logs.flush_repeats()


def uvicorn_config(app, host: str, port: int, trusted_proxies: tuple[str, ...] = ()):
    import uvicorn

    return uvicorn.Config(
        LoggedErrors(app), host=host, port=port, log_level="warning", access_log=False, log_config=None,
        lifespan="off", http=DeadlineProtocol, timeout_graceful_shutdown=3, server_header=False,
        timeout_keep_alive=KEEP_ALIVE_S, backlog=BACKLOG,
        # X-Forwarded-For/-Proto only from the proxies `[daemon] trusted_proxies` names (the client is
        # the rightmost address not among them); none by default, so no client can claim another address.
        proxy_headers=bool(trusted_proxies), forwarded_allow_ips=list(trusted_proxies) or None,
    )
