"""The runtime: the pure components, the journal, the clock and the timers, in one event loop.

A command runs synchronously in the loop (decide + apply, no await, no lock), its events are
queued for the journal, and the caller awaits the commit before replying. Listeners (screens,
pads, metrics, notices) hear events only after they are durable.

Components are pure state machines with `execute(cmd, now) -> events` for the commands they own
and `apply(event)` for every event in the journal (their own and the others'); the engine is the
first, the evaluator's rating book another.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from queued import crash_hook
from queued.config import Config
from queued.core import commands as c
from queued.core.calendar import HallCalendar
from queued.core.engine import Engine
from queued.core.events import Event
from queued.core.text import check_command
from queued.journal import Journal

log = logging.getLogger("queued.runtime")


class Component(Protocol):
    commands: tuple[type, ...]

    def execute(self, cmd: Any, now: float) -> list[Event]: ...

    def apply(self, ev: Event) -> None: ...


class _RandomPool:
    """Unguessable ids from the OS's CSPRNG, drawn 4 KiB at a time: one getrandom() per ~340 tickets
    instead of one per ticket (each costs ~20 µs on a VM)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self.buf = b""
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            self.buf = secrets.token_bytes(self.size)
            self.pos = 0
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


_pool = _RandomPool()


def new_ticket_id() -> str:
    # The id names the ticket (following it is public): 96 random bits, short enough for a QR code.
    return base64.urlsafe_b64encode(_pool.take(12)).decode()


def new_rating_key() -> str:
    """The holder's proof (rate, cancel): 96 random bits, printed in the ticket's QR code beside the id
    and kept by the WeChat page; never shown to staff (http-api.md 1.1, Tickets)."""
    return base64.urlsafe_b64encode(_pool.take(12)).decode()


class Runtime:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time):
        self.config = config
        self.clock = clock
        self.calendar = HallCalendar(config.timezone)
        self.engine = Engine(config.hall, self.calendar)
        self.journal = Journal(config.database, self.calendar)
        self.components: list[Any] = [self.engine]
        self._owners: dict[type, Any] = {t: self.engine for t in self.engine._execute}
        self.listeners: list[Callable[[Sequence[Event]], None]] = []
        self.started_at = 0.0
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task] = set()
        self._day_timer: asyncio.TimerHandle | None = None
        self.replayed = 0
        self.replay_seconds = 0.0
        self.health_checks: dict[str, Callable[[], bool]] = {}

    # ---- wiring --------------------------------------------------------------------------------

    def add_component(self, component: Any) -> None:
        """A further pure state machine fed every event (e.g. the evaluator's rating book)."""
        self.components.append(component)
        for t in component.commands:
            self._owners[t] = component

    def subscribe(self, listener: Callable[[Sequence[Event]], None]) -> None:
        """`listener(events)` runs after each commit, in commit order; it must not block."""
        self.listeners.append(listener)

    # ---- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.journal.open()
        self.journal.listeners.append(self._dispatch)
        crash_hook.install(self.journal)  # tests only: QUEUED_TEST_KILL_AFTER_COMMIT
        today = self.calendar.day(self.clock())
        self.engine.next_serial = await self.journal.max_serial() + 1
        for comp in self.components:
            prepare = getattr(comp, "prepare", None)
            if prepare is not None:
                await prepare(self.journal, today)
        await self._seed_service_times(today)
        t0 = time.perf_counter()
        events = await self.journal.load_day(today)
        self.engine.day = today
        for ev in events:
            for comp in self.components:
                comp.apply(ev)
        self.replayed = len(events)
        self.replay_seconds = time.perf_counter() - t0
        stale = await self.journal.close_stale_tickets(today)
        if stale:
            log.info("closed %d tickets left open on earlier days", stale)
        self.started_at = self.clock()
        self._schedule_day()
        log.info("replayed %d events of %s in %.3f s", self.replayed, today, self.replay_seconds)

    async def _seed_service_times(self, today: str) -> None:
        """Start the day's estimates from the last week's cases, not from a guess (per business, and
        per window and business: clerks differ); today's finishes (replayed next) refine them."""
        rows = await self.journal.fetchall(
            "SELECT window, business, AVG(service_s) AS avg_s, COUNT(*) AS n FROM tickets"
            " WHERE day >= date(?, '-7 days') AND day < ? AND status='done' AND service_s BETWEEN 10 AND 10800"
            " GROUP BY window, business", (today, today))
        eng = self.engine
        totals: dict[str, list[float]] = {}
        for row in rows:
            b, w, n = row["business"], row["window"], row["n"]
            if b not in eng.service_avg:
                continue
            acc = totals.setdefault(b, [0.0, 0])
            acc[0] += float(row["avg_s"]) * n
            acc[1] += n
            if w in eng.windows and n >= 5:
                eng.window_service[(w, b)] = [float(row["avg_s"]), n]
        for b, (total, n) in totals.items():
            if n >= 5:
                eng.service_avg[b] = total / n

    async def stop(self) -> None:
        if self.journal.db is None:
            return
        for handle in list(self._timers):
            handle.cancel()
        self._timers.clear()
        if self._day_timer is not None:
            self._day_timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.journal.close()

    @property
    def healthy(self) -> bool:
        return self.journal.healthy and all(check() for check in self.health_checks.values())

    # ---- commands ------------------------------------------------------------------------------

    def decide(self, cmd: Any, now: float | None = None) -> list[Event]:
        """Run a command in the loop, without awaiting: the events are applied everywhere and queued.

        A command carrying text the journal cannot store is refused first (BadText), whoever sent
        it: otherwise its events would make the journal write fail and the daemon fail-stop."""
        owner = self._owners.get(type(cmd))
        if owner is None:
            raise TypeError(f"no component handles {type(cmd).__name__}")
        check_command(cmd)
        now = self.clock() if now is None else now
        events = owner.execute(cmd, now)
        if events:
            for comp in self.components:
                if comp is not owner:
                    apply = comp.apply
                    for ev in events:
                        apply(ev)
        return events

    async def execute(self, cmd: Any, view: Callable[[list[Event]], Any] | None = None,
                      also: Sequence[Event] = ()) -> tuple[list[Event], Any]:
        """Run a command and wait until its events are durable.

        `view(events)` runs right after the decision, before the await, so it sees the state the
        command produced (not what later commands did while this one waited for its commit).
        `also`: events committed in the same transaction (e.g. the pad EVT a key press came with,
        so a crash can never separate the effect from the record that it was processed).
        A CoreError propagates with nothing changed.
        """
        events = self.decide(cmd)
        result = view(events) if view is not None else None
        if events or also:
            await self.record(list(also), events)
        return events, result

    async def record(self, extra: Sequence[Event], decided: Sequence[Event] = ()) -> None:
        """Journal events that need no decision (device bookkeeping), after `decided` in one commit.
        They are applied to every component too (most ignore them)."""
        for ev in extra:
            for comp in self.components:
                comp.apply(ev)
        await self.journal.append([*decided, *extra])

    def submit(self, cmd: Any) -> None:
        """Fire-and-forget for timers: errors are logged, never raised."""

        async def run():
            try:
                await self.execute(cmd)
            except Exception as exc:
                log.info("scheduled %s refused: %s", type(cmd).__name__, getattr(exc, "message", exc))

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule(self, delay_s: float, cmd: Any) -> asyncio.TimerHandle:
        """Run `cmd` after `delay_s` (rating time-outs, closing time)."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire():
            self._timers.discard(handle)
            self.submit(cmd)

        handle = loop.call_later(max(0.0, delay_s), fire)
        self._timers.add(handle)
        return handle

    def _dispatch(self, events: Sequence[Event]) -> None:
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:
                log.exception("listener %r failed", listener)

    def _schedule_day(self) -> None:
        """The day's two moments that come by the clock, not by a command: just after midnight the
        new day starts (RollDay: yesterday's figures end with yesterday), and at `[hall] hard_close`
        what still waits is closed out (CloseOutDay, 留号). Nothing happens at `closes`: windows keep
        serving what waits (延时服务)."""
        now = self.clock()
        day = self.calendar.day(now)
        tomorrow = self.calendar.day(self.calendar.day_start(day) + 36 * 3600)
        moments = [(self.calendar.day_start(tomorrow) + 2, c.RollDay())]
        hard = self.config.hall.hard_close_minute
        if hard is not None:
            at = self.calendar.at(day, hard)
            if at <= now and not (self.engine.day == day and self.engine.day_closed):
                self.submit(c.CloseOutDay())  # it passed while the daemon was down
            moments.append((at if at > now else self.calendar.at(tomorrow, hard), c.CloseOutDay()))
        at, cmd = min(moments, key=lambda m: m[0])
        loop = asyncio.get_running_loop()

        def fire():
            self.submit(cmd)
            self._day_timer = loop.call_later(1.0, self._schedule_day)

        self._day_timer = loop.call_later(max(0.5, at - now), fire)

    # ---- helpers for adapters --------------------------------------------------------------------

    def iso(self, ts: float | None) -> str | None:
        return None if ts is None else self.calendar.iso(ts)

    def ticket_json(self, ticket_id: str, estimate: bool = True) -> dict[str, Any]:
        """The API's view of a ticket (times as ISO 8601 with the hall's offset)."""
        view = self.engine.ticket_view(self.engine.ticket(ticket_id), self.clock(), estimate)
        return self.isoize(view)

    def add_estimate(self, view: dict[str, Any]) -> dict[str, Any]:
        """Position and wait of a ticket as of now, into a view made with `estimate=False`.

        The issue reply asks this after its commit: the tickets of one group commit are then
        estimated from one plan (built once, kept while nothing changes) instead of one plan per
        ticket while the decisions run, so ETAs cost nothing on the issuing path under load."""
        t = self.engine.tickets.get(view["id"])
        if t is not None:
            est = self.engine.estimate(t, self.clock())
            view["position"], view["eta_seconds"] = est.position, est.eta_seconds
        return view

    def isoize(self, view: dict[str, Any]) -> dict[str, Any]:
        for key in ("issued_at", "called_at", "finished_at", "since", "parked_at"):
            if key in view:
                view[key] = self.iso(view[key])
        return view
