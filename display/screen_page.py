"""/screen (the waiting area's screen: the call, every window, the latest calls, waiting per
business, the hall's notice; it plays each call's WAV) and /screen/window/{w} (the small LCD above a
window), fed by Server-Sent Events at /events/screen (?window=W for one window's LCD).

Public on purpose: it shows what the hall's board shows anyway (ticket numbers and counts, no
names), and a screen PC in the waiting area should need no token. A page fetches /screen/state
whenever its stream (re)opens, so a daemon restart heals itself without a reload.

Streams are open connections, so they are rationed: without a token a client address gets at most
MAX_PER_ADDRESS of them (429 beyond) and all anonymous ones together MAX_ANONYMOUS (503 beyond);
a stream with a valid token (`/screen?token=…`, any role: it proves the hall issued it) comes from
its own allowance, MAX_WITH_TOKEN, that strangers cannot use up.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from display.messages import Changes
from display.outbox import Outbox
from display.screen_view import screen_state, window_card
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import principal

if TYPE_CHECKING:
    from display.service import DisplayService

KEEPALIVE_S = 15.0  # a comment line keeps proxies and the browser from calling the stream dead
MAX_PER_ADDRESS = 8
MAX_ANONYMOUS = 200  # a hall's screens and the LCDs above its windows, each its own address
MAX_WITH_TOKEN = 1000
templates = make_templates(Path(__file__).parent / "templates")


class Stream:
    """One open /events/screen: its own small coalescing outbox, and the window it is for (or all)."""

    __slots__ = ("box", "window")

    def __init__(self, window: str | None):
        self.box = Outbox(call_limit=20)
        self.window = window


class ScreenHub:
    def __init__(self, service: DisplayService):
        self.service = service
        self.hall_streams: set[Stream] = set()  # /screen: everything
        self.window_streams: dict[str, set[Stream]] = {}  # /screen/window/{w}: that window alone
        self.anonymous: Counter[str] = Counter()  # client address → open streams without a token
        self.with_token = 0
        self.closed = False

    @property
    def streams(self) -> list[Stream]:
        return [*self.hall_streams, *(s for group in self.window_streams.values() for s in group)]

    def put(self, changes: Changes) -> None:
        """From the runtime's listener: a mark per interested stream, no I/O."""
        for s in self.hall_streams:
            s.box.put(changes)
        if self.window_streams:
            for w, flash in changes.windows.items():
                group = self.window_streams.get(w)
                if group:
                    mine = Changes({w: flash}, False, [c for c in changes.calls if c["window"] == w])
                    for s in group:
                        s.box.put(mine)

    def close(self) -> None:
        self.closed = True
        for s in self.streams:
            s.box.ready.set()

    def admit(self, address: str | None) -> None:
        """Reserve a stream for `address` (None: it came with a token) or refuse it."""
        if address is None:
            if self.with_token >= MAX_WITH_TOKEN:
                raise ApiError("unavailable", f"屏幕连接过多（more than {MAX_WITH_TOKEN} screen streams）", 503)
            self.with_token += 1
            return
        if self.anonymous[address] >= MAX_PER_ADDRESS:
            raise ApiError("too_many_streams", f"本机打开的屏幕连接过多，请关闭多余页面（more than {MAX_PER_ADDRESS} "
                           "screen streams from this address; a screen with a token is not limited so）", 429)
        if sum(self.anonymous.values()) >= MAX_ANONYMOUS:
            raise ApiError("unavailable", f"屏幕连接过多（more than {MAX_ANONYMOUS} screen streams without a "
                           "token）", 503)
        self.anonymous[address] += 1

    def release(self, address: str | None) -> None:
        if address is None:
            self.with_token -= 1
            return
        self.anonymous[address] -= 1
        if self.anonymous[address] <= 0:
            del self.anonymous[address]

    def _add(self, stream: Stream) -> None:
        if stream.window is None:
            self.hall_streams.add(stream)
        else:
            self.window_streams.setdefault(stream.window, set()).add(stream)

    def _remove(self, stream: Stream) -> None:
        if stream.window is None:
            self.hall_streams.discard(stream)
        else:
            group = self.window_streams.get(stream.window, set())
            group.discard(stream)
            if not group:
                self.window_streams.pop(stream.window, None)

    def state(self, window: str | None = None) -> dict:
        return screen_state(self.service, self.service.runtime.clock(), window)

    async def stream(self, window: str | None, address: str | None):
        stream = Stream(window)
        self._add(stream)
        s = self.service
        box = stream.box

        async def events():
            try:
                yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'hall': s.model.hall.id})}\n\n"
                while not self.closed:
                    try:
                        await asyncio.wait_for(box.ready.wait(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if self.closed:
                        break
                    ch = box.take()
                    rt = s.runtime
                    now = rt.clock()
                    if ch.windows:
                        phase = rt.engine.day_phase(now)["phase"]
                        for w in ch.windows:
                            if w in rt.engine.windows:
                                card = window_card(rt.engine, s.model, w, phase)
                                yield f"event: window\ndata: {json.dumps(card, ensure_ascii=False)}\n\n"
                    for call in ch.calls:
                        yield f"event: call\ndata: {json.dumps(call, ensure_ascii=False)}\n\n"
                    if ch.board and window is None:
                        board = s.model.board(rt.engine, now)
                        yield f"event: board\ndata: {json.dumps(board, ensure_ascii=False)}\n\n"
            finally:
                self._remove(stream)
                self.release(address)

        return events()


def _json_for_script(value) -> str:
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def routes(service: DisplayService) -> list[Route]:
    hub = service.hub
    windows = {w.id for w in service.config.hall.windows}

    def window_param(request: Request, value: str | None) -> str | None:
        if value is not None and value not in windows:
            raise ApiError("unknown_window", f"没有这个窗口（unknown window {value[:16]!r}）")
        return value

    async def screen(request: Request):
        st = hub.state()
        return templates.TemplateResponse(request, "screen.html", {"hall_name": st["hall_name"],
                                                                   "state_json": _json_for_script(st)})

    async def window_screen(request: Request):
        w = request.path_params["window"]
        if w not in windows:
            return templates.TemplateResponse(request, "screen_missing.html", {
                "hall_name": service.config.hall.name, "window": w[:16]}, status_code=404)
        st = hub.state(w)
        return templates.TemplateResponse(request, "screen_window.html", {
            "hall_name": st["hall_name"], "label": st["windows"][0]["label"], "state_json": _json_for_script(st)})

    async def screen_state_route(request: Request) -> JSONResponse:
        return JSONResponse(hub.state(window_param(request, request.query_params.get("window"))))

    async def screen_events(request: Request) -> StreamingResponse:
        window = window_param(request, request.query_params.get("window"))
        token = request.query_params.get("token")
        if token is not None or request.headers.get("authorization"):
            p = await principal(request) if token is None else await request.app.state.tokens.principal(token)
            if p is None:
                raise ApiError("unauthorized", "令牌无效或已吊销（unknown or revoked token）")
            address = None
        else:
            address = request.client.host if request.client else "?"
        hub.admit(address)
        try:
            body = await hub.stream(window, address)
        except BaseException:
            hub.release(address)
            raise
        return StreamingResponse(body, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return [
        Route("/screen", screen, methods=["GET"]),
        Route("/screen/state", screen_state_route, methods=["GET"]),
        Route("/screen/window/{window}", window_screen, methods=["GET"]),
        Route("/events/screen", screen_events, methods=["GET"]),
    ]
