"""The pads adapter: the windows' double-sided evaluator pads (QPad v1) in the daemon.

- One `BusPoller` per configured serial port (`[[window]] pad = {port, address}`, `[[bus]]` for the
  port's settings); ports with `[[bus]] remote = true` are served by a bridge elsewhere, over MQTT
  (`queued.pads.remote`).
- Pad events → commands, exactly once: each is committed together with a `PadEventProcessed`
  (`queued.pads.ledger`) and only then acknowledged (on_event returns after the commit). A refused
  command (a key that does not fit the window's state, a second rating) is journaled as processed
  too, and the pad is shown the truth again.
- The pad always shows the truth: SHOW_CLERK on sign-in/out, SHOW_STATE after every change of the
  window or of its waiting count, SHOW_PARKED (extension 0x07, docs/pads.md) after every 挂起/回呼
  (coalesced: one computation per loop turn, sent only when it differs), all again whenever the pad
  comes (back) online. A pad whose firmware answers SHOW_PARKED with NAK 2 is not sent it again
  until it comes back online (BusPoller remembers).
- Ratings: RatingRequested → RATE_REQUEST; RATING → the evaluator's Rate (channel "pad"); RATE_TIMEOUT
  → RatingTimeout; rated elsewhere while the prompt is open → RATE_CANCEL. Prompts are the rating
  book's journaled state, not this adapter's: whenever a pad comes online (the first reply after a
  start, or after it was offline) it is sent every prompt of its window still open, with the time
  left, so a restart or an unplugged pad loses no prompt; a prompt that never reaches the pad is
  closed by the evaluator's backstop timer. A pad that comes online with a RATING still queued for
  a prompt sent to it again is sent RATE_CANCEL for that case once the RATING is heard.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import partial

from evaluator import events as rev
from evaluator.commands import Rate, RatingTimeout, RefuseDuplicate
from evaluator.errors import AlreadyRated
from evaluator.service import new_rating_id
from firmware_bridge.errors import FirmwareBridgeError
from firmware_bridge.frames import (
    EVENT_TYPE_NAMES,
    HostCommand,
    Key,
    KeyCode,
    Nak,
    PadEvent,
    RateCancel,
    RateRequest,
    RateTimeout,
    Rating,
    ShowClerk,
    ShowParked,
    ShowState,
)
from firmware_bridge.poller import BusPoller
from queued.broker import daemon_login, embedded_url
from queued.broker.accounts import DAEMON_PADS
from queued.core import events as e
from queued.core.errors import CoreError
from queued.pads import ledger, status
from queued.pads.errors import PadError
from queued.pads.remote import RemoteBuses
from queued.pads.screens import clerk_frame, key_command, parked_frame, state_frame

log = logging.getLogger("queued.pads")

# On a pty (tests, emulators) nothing paces the poller but this; on a real line the wire is slower.
MIN_CYCLE_S = 0.005
SCREEN_RETRY_S = 0.2  # an unanswered screen or prompt is sent again this long after


def broker_url(config) -> str:
    return config.mqtt_url or embedded_url(config)


class PadAdapter:
    def __init__(self, daemon):
        self.daemon = daemon
        self.runtime = rt = daemon.runtime
        self.config = cfg = daemon.config
        self.hall = cfg.hall
        self.bindings = {p.window: p for p in cfg.pads}
        self.by_pad = {(p.port, p.address): p for p in cfg.pads}
        self.remote_ports = {p.port for p in cfg.pads if cfg.buses.get(p.port, {}).get("remote")}
        self.pollers: dict[str, BusPoller] = {}
        self.remote: RemoteBuses | None = None
        self.showing: dict[str, int] = {}  # window → case of the last prompt its pad took (what it shows)
        self.resent: dict[str, set[int]] = {}  # window → prompts sent again when its pad came online
        self.book = None  # the evaluator's RatingBook (open prompts), when the evaluator runs
        self.sent_state: dict[str, tuple] = {}  # window → the SHOW_STATE last queued for its pad
        self.sent_parked: dict[str, ShowParked] = {}  # window → the SHOW_PARKED last queued for its pad
        self.events: Counter = Counter()  # processed pad events, by type
        self.keys: Counter = Counter()  # processed keys, by name
        self.refused: Counter = Counter()  # (type, code) of events whose command was refused
        self.latest: dict[tuple[str, type], asyncio.Future] = {}  # the screen in flight per pad and kind
        self.deferred: set[tuple[str, type]] = set()  # screens changed while one was in flight
        self.screen_retries = 0
        self.rating_enabled = False
        self._dirty = False
        self._stopping = False
        rt.subscribe(self._on_events)
        daemon.metrics.registry.register(status.PadCollector(self))
        rt.health_checks["pad_buses"] = self.buses_running
        self.routes = status.routes(self)

    # ---- life ------------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.bindings:
            return
        evaluator = self.daemon.adapter("EvaluatorAdapter")
        self.rating_enabled = evaluator is not None
        self.book = evaluator.book if evaluator is not None else None
        if not self.rating_enabled:
            log.warning("pads without the evaluator: RATING and RATE_TIMEOUT are acknowledged and ignored")
        acks = await ledger.load_acks(self.runtime.journal)
        by_port: dict[str, list[int]] = defaultdict(list)
        for p in self.config.pads:
            by_port[p.port].append(p.address)
        for port, addresses in by_port.items():
            if port in self.remote_ports:
                continue
            bus = self.config.buses.get(port, {})
            self.pollers[port] = BusPoller(
                port, addresses, partial(self.on_pad_event, port), baudrate=bus.get("baudrate", 9600),
                reply_timeout_s=bus.get("reply_timeout_ms", 100) / 1000, min_cycle_s=MIN_CYCLE_S,
                on_online=partial(self.pad_online, port), on_offline=partial(self.pad_offline, port),
                initial_acks={a: acks[(port, a)] for a in addresses if (port, a) in acks},
            )
        if self.remote_ports:
            cfg = self.config
            ports = {p.address: p.port for p in cfg.pads if p.port in self.remote_ports}
            username, password = daemon_login(self.daemon, DAEMON_PADS)
            try:
                self.remote = RemoteBuses(
                    broker_url(cfg), cfg.mqtt_prefix, cfg.hall.id, ports, self.on_pad_event, self.pad_online,
                    self.pad_offline, acks, username=username, password=password,
                    client_id=f"{cfg.mqtt_client_id}-pads" if cfg.mqtt_client_id else "")
            except FirmwareBridgeError as exc:
                raise PadError(f"remote pads: {exc}") from exc
            await self.remote.start()
        for poller in self.pollers.values():
            poller.start()
        self.daemon.app.state.health_details = getattr(self.daemon.app.state, "health_details", {})
        self.daemon.app.state.health_details["pads"] = self.health_details
        log.info("pads: %d on %d serial bus(es), %d remote", len(self.bindings), len(self.pollers),
                 len(self.bindings) - sum(len(p.links) for p in self.pollers.values()))

    async def stop(self) -> None:
        self._stopping = True
        for poller in self.pollers.values():
            await poller.stop()
        if self.remote is not None:
            await self.remote.stop()

    def buses_running(self) -> bool:
        """The bus tasks are alive (they reopen lost ports themselves). A pad offline is not a fault
        of the daemon: pads come and go, so it shows in details and metrics, never as a 503."""
        if self._stopping or not self.bindings:
            return True
        ok = all(p.is_running for p in self.pollers.values())
        return ok and (self.remote is None or self.remote.running)

    def health_details(self) -> dict:
        return {"pads": len(self.bindings), "online": sum(1 for w in self.bindings if self.is_online(w)),
                "offline": sorted(w for w in self.bindings if not self.is_online(w))}

    # ---- where a pad lives -----------------------------------------------------------------------

    def bus_of(self, window: str):
        p = self.bindings[window]
        return self.remote if p.port in self.remote_ports else self.pollers.get(p.port)

    def is_online(self, window: str) -> bool:
        bus = self.bus_of(window)
        return bus is not None and bus.is_online(self.bindings[window].address)

    def send(self, window: str, frame: HostCommand) -> asyncio.Future | None:
        screen = (window, type(frame)) if isinstance(frame, ShowClerk | ShowState | ShowParked) else None
        if screen in self.latest:
            # One screen of a kind in flight per pad; the newest truth follows when it is answered,
            # and an unanswered one is retried (below). BusPoller also lets a newer screen replace a
            # queued older one, never the one on the wire (firmware_bridge/link.py).
            self.deferred.add(screen)
            return self.latest[screen]
        bus = self.bus_of(window)
        if bus is None:
            return None
        try:
            fut = bus.send(self.bindings[window].address, frame)
        except FirmwareBridgeError as exc:
            log.warning("pad of window %s: cannot send %s: %s", window, type(frame).__name__, exc)
            return None
        if screen is not None:
            self.latest[screen] = fut
            fut.add_done_callback(partial(self._screen_sent, screen))
        return fut

    def _screen_sent(self, screen: tuple[str, type], fut: asyncio.Future) -> None:
        del self.latest[screen]
        if self._stopping:
            return
        if screen in self.deferred:
            self.deferred.discard(screen)
            self._resend_screen(*screen)
            return
        reply = None if fut.cancelled() else fut.result()
        if reply is None and self.is_online(screen[0]):
            # Unanswered on a noisy or busy line: the pad must not keep a stale clerk or number.
            # (A pad that went offline gets both screens anyway when it comes back.)
            self.screen_retries += 1
            asyncio.get_running_loop().call_later(SCREEN_RETRY_S, self._resend_screen, *screen)

    def _resend_screen(self, window: str, kind: type) -> None:
        if self._stopping:
            return
        if kind is ShowClerk:
            self.send(window, clerk_frame(self.hall, self.runtime.engine, window))
        elif kind is ShowParked:
            self.sent_parked.pop(window, None)
            self._send_parked(window)
        else:
            self.sent_state.pop(window, None)
            self._send_state(window)

    # ---- pad → hall --------------------------------------------------------------------------------

    async def on_pad_event(self, port: str, addr: int, event: PadEvent) -> None:
        """Commit the event's effect with its PadEventProcessed; returning lets the pad's ACK go."""
        binding = self.by_pad[(port, addr)]
        kind = EVENT_TYPE_NAMES[type(event)]
        rt = self.runtime

        def processed(outcome: str = "ok") -> ledger.PadEventProcessed:
            return ledger.PadEventProcessed(rt.clock(), port, addr, event.evt, kind, outcome)

        try:
            if isinstance(event, Key):
                await rt.execute(key_command(self.hall, binding.window, event), also=[processed()])
                self.keys[KeyCode(event.key).topic_name] += 1
            elif not self.rating_enabled:
                await rt.record([processed("no_evaluator")])
            elif isinstance(event, Rating):
                await self._rate(binding.window, event, processed)
            elif isinstance(event, RateTimeout):
                await rt.execute(RatingTimeout(event.case, source="pad", rating_id=new_rating_id()),
                                 also=[processed()])
        except AlreadyRated as exc:
            self.refused[(kind, exc.code)] += 1
            await rt.execute(RefuseDuplicate(event.case, None, "pad"), also=[processed(exc.code)])
        except CoreError as exc:
            self.refused[(kind, exc.code)] += 1
            log.info("pad %d (window %s): %s refused: %s", addr, binding.window, kind, exc.message)
            await rt.record([processed(exc.code)])
            if isinstance(event, Key):
                self.sent_state.pop(binding.window, None)  # the clerk pressed on a stale screen: resend
                self._mark_dirty()
        self.events[kind] += 1
        if isinstance(event, Rating | RateTimeout):
            w = binding.window
            if self.showing.get(w) == event.case:
                del self.showing[w]  # the pad closed it itself
            if event.case in self.resent.get(w, ()):
                # Sent again as the pad came online while this event still waited on it (a rating
                # given while the host was down or the pad unheard): the pad shows it again; close it.
                self.resent[w].discard(event.case)
                self.send(w, RateCancel(event.case))

    async def _rate(self, window: str, event: Rating, processed) -> None:
        cmd = Rate(int(event.level), case=event.case, reasons=event.reasons, channel="pad", window=window,
                   rating_id=new_rating_id())
        await self.runtime.execute(cmd, also=[processed()])

    def pad_online(self, port: str, addr: int) -> None:
        """A pad answered again (or a remote bridge says so): it may have lost its screens."""
        binding = self.by_pad.get((port, addr))
        if binding is None or binding.window not in self.runtime.engine.windows:
            return
        w = binding.window
        self.send(w, clerk_frame(self.hall, self.runtime.engine, w))
        self.sent_state.pop(w, None)
        self._send_state(w)
        self.sent_parked.pop(w, None)
        self._send_parked(w)
        self.showing.pop(w, None)  # it may have lost its prompt with its power
        if self.book is not None:
            prompts = self.book.open_prompts(w)
            self.resent[w] = {c.case for c in prompts}
            for c in prompts:  # oldest first: the pad ends on the newest
                self._prompt(w, c.case)

    def pad_offline(self, port: str, addr: int) -> None:
        binding = self.by_pad.get((port, addr))
        if binding is not None:
            log.warning("pad %d of window %s is offline", addr, binding.window)

    # ---- hall → pads (after commit; never blocks) ---------------------------------------------------

    def _on_events(self, events: Sequence[e.Event]) -> None:
        if not self.bindings or self._stopping:
            return
        for x in events:
            kind = type(x)
            if kind is e.ClerkSignedIn or kind is e.ClerkSignedOut:
                if x.window in self.bindings:
                    self.send(x.window, clerk_frame(self.hall, self.runtime.engine, x.window))
            elif kind is rev.RatingRecorded or kind is rev.RatingTimedOut:
                if self.showing.get(x.window) == x.case:
                    del self.showing[x.window]
                    if getattr(x, "channel", None) != "pad" and getattr(x, "source", None) != "pad":
                        self.send(x.window, RateCancel(x.case))  # rated by QR, or the daemon timed it out
            elif kind is rev.RatingRequested:  # after the above: a ticket's next 办件 follows in one commit
                if x.window in self.bindings:
                    self._prompt(x.window, x.case)
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        if not self._dirty:
            self._dirty = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._dirty = False
        if self._stopping:
            return
        for w in self.bindings:
            if w in self.runtime.engine.windows:
                self._send_state(w)
                self._send_parked(w)

    def _send_state(self, window: str) -> None:
        frame = state_frame(self.runtime.engine, window)
        key = (frame.state, frame.waiting, frame.ticket)
        if self.sent_state.get(window) == key:
            return
        if self.send(window, frame) is not None:
            self.sent_state[window] = key

    def _send_parked(self, window: str) -> None:
        frame = parked_frame(self.runtime.engine, window)
        if self.sent_parked.get(window) == frame:
            return
        if self.send(window, frame) is not None:
            self.sent_parked[window] = frame

    def _prompt(self, window: str, case: int) -> None:
        """Send the open prompt of `case` to the window's pad with the time it has left; again after
        a moment if the pad did not take it while online (offline: `pad_online` sends it)."""
        if self._stopping or self.book is None or not self.is_online(window):
            return
        c = self.book.prompts.get(case)
        if c is None:
            return  # rated or timed out meanwhile
        left = math.ceil(c.time_left(self.runtime.clock()))
        if left < 1:
            return  # run out: the evaluator's timer closes it
        t = self.runtime.engine.tickets.get(c.ticket)
        fut = self.send(window, RateRequest(case, min(left, 255), t.number if t else ""))
        if fut is None:
            return
        self.showing[window] = case  # now: a rating elsewhere from here on is followed by RATE_CANCEL

        def delivered(f: asyncio.Future) -> None:
            reply = f.result() if not f.cancelled() else None
            if self._stopping or (reply is not None and not isinstance(reply, Nak)):
                return
            log.warning("window %s: the pad did not take the rating prompt for case %d", window, case)
            if self.showing.get(window) == case:
                del self.showing[window]
            if self.is_online(window):
                asyncio.get_running_loop().call_later(SCREEN_RETRY_S, self._prompt, window, case)

        fut.add_done_callback(delivered)
