"""The display adapter: the runtime's events → screens (MQTT and the /screen page), screens'
heartbeats → the supervisor's view and metrics. It owns the screens' retained state: another
client's overwrite (display.retained_watch) is counted and put right within a second.

The runtime listener only notes what changed (`ScreenModel.observe`) and marks the outboxes;
payloads are built when a consumer is ready to send, from the state at that moment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from display import screen_page
from display.messages import Changes, Message, ScreenModel
from display.outbox import Outbox
from display.publisher import MqttLink
from display.retained_watch import KINDS, RetainedWatch
from display.screens import ScreenRegistry, parse_alive
from display.voice.routes import routes as voice_routes
from display.voice.service import Voice
from queued.broker import daemon_login, embedded_url
from queued.web.inputs import require

log = logging.getLogger("queued.display")

CORRECT_EVERY_S = 1.0  # at most one correction per topic per second (two daemons on one hall id would fight)


def broker_url(config) -> str:
    """The configured broker, or the embedded one when there is no [mqtt] section."""
    return config.mqtt_url or embedded_url(config)


class DisplayCollector:
    """Screens and the broker link, read at scrape time."""

    def __init__(self, service: DisplayService):
        self.service = service

    def collect(self):
        s = self.service
        now = s.runtime.clock()
        online = GaugeMetricFamily("queued_screens_online", "Screens heard from in the last 30 s")
        online.add_metric([], s.screens.count_online(now))
        yield online
        known = GaugeMetricFamily("queued_screens_known", "Screens heard from since the daemon started")
        known.add_metric([], len(s.screens.screens))
        yield known
        up = GaugeMetricFamily("queued_mqtt_connected", "1 while the daemon is connected to the MQTT broker")
        up.add_metric([], 1 if s.link.connected else 0)
        yield up
        pub = CounterMetricFamily("queued_mqtt_published", "MQTT messages published")
        pub.add_metric([], s.link.published)
        yield pub
        conn = CounterMetricFamily("queued_mqtt_connects", "Connections made to the MQTT broker")
        conn.add_metric([], s.link.connects)
        yield conn
        dropped = CounterMetricFamily("queued_mqtt_calls_dropped", "Call announcements dropped while the "
                                      "broker was away (the outbox keeps the latest 200)")
        dropped.add_metric([], s.outbox.dropped_calls)
        yield dropped
        over = CounterMetricFamily("queued_screen_overwrites", "Retained screen messages another client published "
                                   "over the daemon's (each one republished)", labels=["topic"])
        for kind in KINDS:
            over.add_metric([kind], s.watch.overwrites[kind])
        yield over


class DisplayService:
    def __init__(self, daemon):
        cfg = daemon.config
        self.config = cfg
        self.daemon = daemon
        self.runtime = rt = daemon.runtime
        self.voice = Voice(cfg, rt.clock)  # refuses to start with a clips folder that does not fit
        self.model = ScreenModel(cfg.hall, cfg.mqtt_prefix, rt.calendar.iso, repeat=cfg.announce_repeat,
                                 audio_for=self.voice.announce)
        self.outbox = Outbox()
        self.screens = ScreenRegistry()
        self.hub = screen_page.ScreenHub(self)
        self._last_led: dict[str, dict] = {}  # what each window's screen last showed (skip repeats)
        self._last_board: dict | None = None
        self._flashed: dict[str, tuple | None] = {}  # window → the call already flashed
        self.watch = RetainedWatch(self.model.base)
        self._corrected: dict[str, float] = {}  # topic → when it was last put right
        self._due: set[str] = set()  # topics whose correction waits for CORRECT_EVERY_S
        self._last_overwrite_at: float | None = None
        self.link = MqttLink(
            broker_url(cfg), status_topic=self.model.status_topic(), subscriptions=[self.model.alive_filter()],
            outbox=self.outbox, build=self.build, on_connect=self._connected, on_message=self._heard,
            username=cfg.mqtt_username, password=cfg.mqtt_password, client_id=cfg.mqtt_client_id,
            watch=self.watch, on_overwrite=self._overwritten,
        )
        rt.subscribe(self._on_events)
        rt.health_checks["mqtt"] = lambda: self.link.connected
        daemon.metrics.registry.register(DisplayCollector(self))
        daemon.metrics.registry.register(self.voice)
        self.routes = [*screen_page.routes(self), *voice_routes(self.voice),
                       Route("/api/v1/screens", self.list_screens, methods=["GET"])]

    async def start(self) -> None:
        self.model.rebuild_recent(self.runtime.engine)
        await self.voice.start()
        self.link.username, self.link.password = (x or None for x in daemon_login(self.daemon))
        await self.link.start()

    async def stop(self) -> None:
        self.hub.close()
        await self.link.stop()
        await self.voice.stop()

    # ---- runtime → outboxes (hot path: no I/O, no waiting) ---------------------------------------

    def _on_events(self, events: Sequence) -> None:
        changes = self.model.observe(self.runtime.engine, events)
        if changes:
            self.outbox.put(changes)
            self.hub.put(changes)

    def _connected(self) -> None:
        self._last_led.clear()
        self._last_board = None
        self.outbox.mark_all(self.runtime.engine.windows)

    # ---- outbox → messages (in the link's task, when the broker is there) ------------------------

    def build(self, changes: Changes) -> list[Message]:
        eng = self.runtime.engine
        model = self.model
        out: list[Message] = []
        now = self.runtime.clock()
        for window in changes.windows:
            if window not in eng.windows:
                continue
            content = model.led_content(eng, window)
            # Flash once per call or recall, on the first message that shows it: the state may
            # already be ahead of the commit that woke us, so the mark comes from the ticket.
            mark = model.call_mark(eng, window)
            flash = mark is not None and self._flashed.get(window) != mark
            if not flash and self._last_led.get(window) == content:
                continue  # nothing a screen would show differently
            self._last_led[window] = content
            self._flashed[window] = mark
            out.extend(model.led_messages(model.led(eng, window, flash, now, content)))
        out.extend(model.call_message(call) for call in changes.calls)
        if changes.board:
            board = model.board(eng, now)
            same = {k: v for k, v in board.items() if k != "at"}
            if same != self._last_board:
                self._last_board = same
                out.append(model.board_message(board))
        return out

    # ---- the screens' state is ours -------------------------------------------------------------

    def _overwritten(self, kind: str, topic: str, payload: bytes) -> None:
        """Another client published over one of our retained topics: say our state again."""
        self._last_overwrite_at = self.runtime.clock()
        log.warning("another MQTT client overwrote the retained %s; republishing the daemon's state", topic)
        if kind == "led":
            try:
                seq = json.loads(payload).get("seq")
            except (ValueError, AttributeError):
                seq = None
            window = topic.split("/")[-2]
            if isinstance(seq, int) and not isinstance(seq, bool) and window in self.model.seq and 0 < seq < 2**53:
                # Displays drop messages whose seq is not above the last they showed: go past the forgery.
                self.model.seq[window] = max(self.model.seq[window], seq)
        wait = self._corrected.get(topic, -CORRECT_EVERY_S) + CORRECT_EVERY_S - time.monotonic()
        if wait <= 0:
            self._correct(topic, kind)
        elif topic not in self._due:
            self._due.add(topic)
            asyncio.get_running_loop().call_later(wait, self._correct, topic, kind)

    def _correct(self, topic: str, kind: str) -> None:
        self._due.discard(topic)
        self._corrected[topic] = time.monotonic()
        if kind == "status":
            self.link.publish_now(topic, b"online")
        elif kind == "board":
            self._last_board = None
            self.outbox.put(Changes(board=True))
        else:  # led or led/gbk: both are rebuilt, with a new seq
            window = topic.split("/")[-3 if kind == "led_gbk" else -2]
            if window in self.runtime.engine.windows:
                self._last_led.pop(window, None)
                self.outbox.put(Changes(windows={window: False}))

    def overwrites(self) -> dict:
        """For the supervisor's view: how often another client overwrote a screen, and the last one."""
        at = self._last_overwrite_at
        return {"count": self.watch.total, "last_topic": self.watch.last_topic,
                "last_at": self.runtime.calendar.iso(at) if at is not None else None}

    # ---- heartbeats ------------------------------------------------------------------------------

    def _heard(self, topic: str, payload: bytes) -> None:
        alive = parse_alive(topic, payload, self.model.base)
        if alive is None:
            self.screens.ignored += 1
            return
        self.screens.heard(alive[0], alive[1], self.runtime.clock())

    async def list_screens(self, request: Request) -> JSONResponse:
        """Extension: GET /api/v1/screens — the screens heard from and whether they are online."""
        await require(request, "read_hall")
        now = self.runtime.clock()
        listing = self.screens.listing(now, self.runtime.calendar.iso)
        return JSONResponse({"screens": listing, "online": sum(1 for s in listing if s["online"]),
                             "broker": {"connected": self.link.connected, "url": self.link.url}})
