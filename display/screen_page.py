"""/screen: the waiting-area page (latest calls, waiting per business, hall name and clock, and the
call spoken aloud), fed by Server-Sent Events at /events/screen.

Public on purpose: it shows what the hall's board shows anyway (ticket numbers and counts, no
names), and a screen PC in the waiting area should need no token. The page fetches /screen/state
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
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import principal

if TYPE_CHECKING:
    from display.service import DisplayService

KEEPALIVE_S = 15.0  # a comment line keeps proxies and the browser from calling the stream dead
MAX_PER_ADDRESS = 8
MAX_ANONYMOUS = 200
MAX_WITH_TOKEN = 1000
templates = make_templates(Path(__file__).parent / "templates")


class ScreenHub:
    """The open /events/screen streams, each with its own small coalescing outbox."""

    def __init__(self, service: DisplayService):
        self.service = service
        self.streams: set[Outbox] = set()
        self.anonymous: Counter[str] = Counter()  # client address → open streams without a token
        self.with_token = 0
        self.closed = False

    def put(self, changes: Changes) -> None:
        if not self.streams or not (changes.board or changes.calls):
            return
        mine = Changes(board=changes.board, calls=changes.calls)
        for box in self.streams:
            box.put(mine)

    def close(self) -> None:
        self.closed = True
        for box in self.streams:
            box.ready.set()

    def state(self) -> dict:
        s = self.service
        rt = s.runtime
        hall = rt.config.hall
        now = rt.clock()
        return {
            "hall": hall.id, "hall_name": hall.name, "timezone": rt.config.timezone,
            "businesses": [{"code": b.code, "name": b.name} for b in hall.businesses],
            "windows": {w.id: s.model.label(w.id) for w in hall.windows},
            "announce_repeat": rt.config.announce_repeat,
            "board": s.model.board(rt.engine, now), "now_ms": int(now * 1000),
        }

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

    async def stream(self, request: Request, address: str | None):
        box = Outbox(call_limit=20)
        self.streams.add(box)
        s = self.service

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
                    for call in ch.calls:
                        yield f"event: call\ndata: {json.dumps(call, ensure_ascii=False)}\n\n"
                    if ch.board:
                        board = s.model.board(s.runtime.engine, s.runtime.clock())
                        yield f"event: board\ndata: {json.dumps(board, ensure_ascii=False)}\n\n"
            finally:
                self.streams.discard(box)
                self.release(address)

        return events()


def routes(service: DisplayService) -> list[Route]:
    hub = service.hub

    async def screen(request: Request):
        st = hub.state()
        return templates.TemplateResponse(request, "screen.html", {
            "hall_name": st["hall_name"], "state_json": json.dumps(st, ensure_ascii=False).replace("<", "\\u003c")})

    async def screen_state(request: Request) -> JSONResponse:
        return JSONResponse(hub.state())

    async def screen_events(request: Request) -> StreamingResponse:
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
            body = await hub.stream(request, address)
        except BaseException:
            hub.release(address)
            raise
        return StreamingResponse(body, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return [
        Route("/screen", screen, methods=["GET"]),
        Route("/screen/state", screen_state, methods=["GET"]),
        Route("/events/screen", screen_events, methods=["GET"]),
    ]
