"""The hall's state: tickets, lanes, windows. `apply(event)` is the only mutator, so replaying the
journal rebuilds exactly the state that live commands built. Queries (positions and waits from the
planner, views) read it; decisions live in `engine.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from queued.core import events as e
from queued.core.calendar import HallCalendar
from queued.core.dayphase import PHASE_TEXT, hhmm, phase
from queued.core.errors import UnknownTicket, UnknownWindow
from queued.core.hall import OUTCOME_TEXT, HallConfig
from queued.core.planner import Estimate, Planner
from queued.core.queues import BusinessQueue, Lane, SortedLane, by_queued
from queued.core.tickets import Ticket, WindowState

STATE_TEXT = {"closed": "未开窗", "idle": "空闲", "calling": "呼叫中", "serving": "办理中", "paused": "暂停服务"}
EWMA_ALPHA = 0.2  # weight of the newest case in a moving-average service time
WINDOW_CASES = 3  # cases a window needs of a business before its own average replaces the business's
OPEN_STATES = ("idle", "calling", "serving")


class HallState:
    def __init__(self, hall: HallConfig, calendar: HallCalendar, day: str | None = None):
        self.hall = hall
        self.calendar = calendar
        self.day = day or ""
        self.next_serial = 1
        # 办件编号 bound today (by replay after a restart): a second binding is refused. Reset when a
        # day starts: a ticket not finished by its day's end is closed with it, and its 办件 may be
        # bound again on a later day (容缺受理: the citizen comes back with the missing document);
        # a 办件 once finished is refused by the adapter against the database (queued/web/api_cases.py).
        self.bound_projects: dict[str, int] = {}
        self.service_avg: dict[str, float] = {b.code: hall.default_service_s for b in hall.businesses}
        # (window, business) → [moving-average service time, cases]: clerks differ (ETAs use it).
        self.window_service: dict[tuple[str, str], list[float]] = {}
        self.day_closed = False
        self._closes: tuple[str | None, float | None] = (None, None)
        self.plans = Planner(self)
        self._reset_day()
        self._apply: dict[type, Callable[[Any], None]] = {
            e.TicketIssued: self._on_issued,
            e.TicketCalled: self._on_called,
            e.TicketRecalled: self._on_recalled,
            e.TicketSkipped: self._on_skipped,
            e.ServiceStarted: self._on_started,
            e.TicketFinished: self._on_finished,
            e.TicketTransferred: self._on_transferred,
            e.TicketCancelled: self._on_cancelled,
            e.CaseBound: self._on_case_bound,
            e.TicketParked: self._on_parked,
            e.TicketUnparked: self._on_unparked,
            e.WindowOpened: self._on_window_opened,
            e.WindowPaused: self._on_paused,
            e.WindowResumed: self._on_resumed,
            e.WindowClosed: self._on_window_closed,
            e.ClerkSignedIn: self._on_signed_in,
            e.ClerkSignedOut: self._on_signed_out,
            e.DayStarted: self._on_day_started,
            e.DayClosed: self._on_day_closed,
        }


    def _reset_day(self) -> None:
        hall = self.hall
        self.tickets: dict[str, Ticket] = {}
        self.by_number: dict[str, Ticket] = {}
        self.counters: dict[str, int] = {b.code: 0 for b in hall.businesses}
        self.queues: dict[str, BusinessQueue] = {b.code: BusinessQueue(b.code) for b in hall.businesses}
        self.windows: dict[str, WindowState] = {
            w.id: WindowState(w.id, i, w.businesses, Lane("window"), SortedLane("window later", by_queued))
            for i, w in enumerate(hall.windows)
        }
        self.open_windows: dict[str, int] = {b.code: 0 for b in hall.businesses}
        self.holders: dict[tuple[str, str], Ticket] = {}  # (openid, business) → waiting ticket
        self.skipped: dict[str, Ticket] = {}  # 过号 tickets a window may call back, oldest skip first
        self.clerk_at: dict[str, str] = {}  # clerk id → window id
        self.day_closed = False
        self.plans.reset()

    def apply(self, ev: e.Event) -> None:
        fn = self._apply.get(type(ev))
        if fn is not None:  # events of other packages (ratings) pass through the same journal
            fn(ev)

    def _emit(self, out: list[e.Event], ev: e.Event) -> None:
        self.apply(ev)
        out.append(ev)

    # ---- queries -----------------------------------------------------------------------------

    def ticket(self, ticket_id: str) -> Ticket:
        t = self.tickets.get(ticket_id)
        if t is None:
            raise UnknownTicket(f"没有这张票：{ticket_id}（No ticket {ticket_id} today.）")
        return t

    def window(self, window_id: str) -> WindowState:
        w = self.windows.get(window_id)
        if w is None:
            raise UnknownWindow(f"没有{window_id}号窗口（No window {window_id!r} in this hall.）")
        return w

    def estimate(self, t: Ticket, now: float) -> Estimate:
        """Position (1 = next) and wait, from the engine's own call order played forward."""
        return self.plans.estimate(t, now)

    def position(self, t: Ticket, now: float) -> int | None:
        return self.plans.estimate(t, now).position

    def eta_seconds(self, t: Ticket, now: float) -> int | None:
        return self.plans.estimate(t, now).eta_seconds

    def service_estimate(self, window: str, business: str) -> float:
        """The service time a case of `business` takes at `window`: the window's own average once
        it has served a few, else the business's."""
        own = self.window_service.get((window, business))
        if own is not None and own[1] >= WINDOW_CASES:
            return own[0]
        return self.service_avg.get(business, self.hall.default_service_s)

    def closes_at(self) -> float | None:
        """Epoch seconds of today's `closes` (None: the hall has no closing time), once per day."""
        if self._closes[0] != self.day:
            m = self.hall.closes_minute
            self._closes = (self.day, None if m is None or not self.day else self.calendar.at(self.day, m))
        return self._closes[1]

    def saturation(self, now: float) -> dict[str, Any]:
        """Today's busy ÷ open per window and per business (the queues report's definition, live):
        open counts idle, calling and serving time (pauses excluded); a business's open time is that
        of the windows serving it."""
        windows, businesses = {}, {}
        open_of = {}
        for w in self.windows.values():
            o = w.open_s + (max(0.0, now - w.open_since) if w.open_since is not None else 0.0)
            open_of[w.id] = o
            busy = sum(w.busy_s.values())
            windows[w.id] = {"busy_s": busy, "open_s": o, "saturation": min(busy / o, 1.0) if o > 0 else None}
        for b in self.hall.businesses:
            busy = sum(w.busy_s.get(b.code, 0.0) for w in self.windows.values())
            o = sum(open_of[w.id] for w in self.windows.values() if b.code in w.businesses)
            businesses[b.code] = {"busy_s": busy, "open_s": o, "saturation": min(busy / o, 1.0) if o > 0 else None}
        return {"windows": windows, "businesses": businesses}

    def busy(self) -> bool:
        """Someone still waits, or is called or served at a window."""
        return any(q.waiting for q in self.queues.values()) or any(
            w.current is not None for w in self.windows.values())

    def day_phase(self, now: float) -> dict[str, Any]:
        """What is true of the hall's day right now (取号已截止, 延时服务中…), for pages and screens."""
        hall = self.hall
        today = self.calendar.day(now)
        fresh = self.day == today  # else nothing happened yet today: yesterday's state does not count
        p = phase(hall, today, self.calendar.minute(now), fresh and self.day_closed, fresh and self.busy())
        return {"phase": p, "text": PHASE_TEXT[p], "stop_issuing": hhmm(hall.issuing_ends_minute),
                "closes": hhmm(hall.closes_minute), "hard_close": hhmm(hall.hard_close_minute)}

    def waiting(self, business: str) -> int:
        return self.queues[business].waiting

    def waiting_for_window(self, window_id: str) -> int:
        w = self.windows[window_id]
        n = sum(self.queues[b].waiting for b in w.businesses)
        if w.directed.alive:  # sent here from a business this window does not serve
            n += sum(1 for t in w.directed.items if t.lane is w.directed and t.business not in w.businesses)
        return n

    def ticket_view(self, t: Ticket, now: float, estimate: bool = True) -> dict[str, Any]:
        """The ticket as the API shows it. `estimate=False` leaves position and eta_seconds None (the
        issue reply fills them after its commit: one plan for the whole group commit, not one each)."""
        est = self.estimate(t, now) if estimate else Estimate(None, None)
        view = {
            "id": t.id,
            "number": t.number,
            "business": t.business,
            "business_name": self.hall.business_index[t.business].name,
            "status": t.status,
            "position": est.position,
            "eta_seconds": est.eta_seconds,
            "window": t.window,
            "priority": t.priority,
            "channel": t.channel,
            "issued_at": t.issued_at,
            "called_at": t.called_at,
            "finished_at": t.finished_at,
        }
        if t.cancel_reason:
            view["cancel_reason"] = t.cancel_reason
        if t.appointment:
            view["appointment"] = t.appointment
        if t.status == "done":
            view["case"] = t.serial
            view["outcome"] = t.outcome
            view["outcome_text"] = OUTCOME_TEXT.get(t.outcome or "done", t.outcome)
        if t.status == "parked":
            view["parked_at"] = t.parked_at
        return view

    def window_view(self, window_id: str) -> dict[str, Any]:
        w = self.window(window_id)
        cur = w.current
        return {
            "window": w.id,
            "state": w.state,
            "state_text": STATE_TEXT[w.state],
            "ticket": cur.number if cur else None,
            "ticket_id": cur.id if cur else None,
            "business": cur.business if cur else None,
            "recalls": cur.recalls if cur else 0,
            "clerk": w.clerk,
            "waiting": self.waiting_for_window(w.id),
            "served_today": w.served,
            "since": w.since,
            "pause_reason": w.pause_reason if w.state == "paused" else None,
            "parked": [{"id": p.id, "number": p.number, "business": p.business, "parked_at": p.parked_at}
                       for p in w.parked.values()],
        }

    # ---- apply: the only place state changes -------------------------------------------------

    def _enqueue(self, t: Ticket, place: str = "front") -> None:
        """Into its lane: sent to a window (next, or by time in line), transferred (front, end, by
        issue time), green, booked, or the business's line."""
        q = self.queues[t.business]
        if t.to_window is not None:
            w = self.windows[t.to_window]
            lane = w.directed if place == "front" else w.later
        elif t.transfers and place == "front":
            lane = q.transfer
        elif t.transfers and place == "issued":
            lane = q.placed
        elif t.priority == "green" and not t.transfers:
            lane = q.green
        elif t.due_at is not None and not t.transfers:
            lane = q.appointment
        else:
            lane = q.normal  # also a transfer placed at the end: its time in line starts again
        lane.push(t)
        q.waiting += 1
        if t.openid:
            self.holders[(t.openid, t.business)] = t
        if type(lane) is Lane:  # FIFO: the plan may only need extending
            self.plans.appended(t, lane)
        elif t.to_window is not None:
            self.plans.touch_window(t.to_window)
        else:
            self.plans.touch_business(t.business)

    def _dequeue(self, t: Ticket) -> None:
        if t.lane is not None:
            t.lane.remove(t)
            self.queues[t.business].waiting -= 1
            if t.to_window is not None:
                self.plans.touch_window(t.to_window)
            self.plans.touch_business(t.business)
        if t.openid and self.holders.get((t.openid, t.business)) is t:
            del self.holders[(t.openid, t.business)]

    def _set_window(self, w: WindowState, state: str, at: float) -> None:
        was_open = w.state in ("idle", "calling", "serving")
        w.state = state
        w.since = at
        self.plans.touch_window(w.id)
        now_open = state in ("idle", "calling", "serving")
        if was_open != now_open:
            if now_open:
                w.open_since = at
            elif w.open_since is not None:
                w.open_s += max(0.0, at - w.open_since)
                w.open_since = None
            delta = 1 if now_open else -1
            for code in w.businesses:
                self.open_windows[code] += delta

    def _on_issued(self, ev: e.TicketIssued) -> None:
        t = Ticket(ev.ticket, ev.serial, ev.number, ev.business, ev.channel, ev.priority, ev.openid,
                   ev.at, ev.due_at, ev.appointment, ev.rating_key)
        self.tickets[t.id] = t
        self.by_number[t.number] = t
        n = int(ev.number[len(ev.business):])
        if n > self.counters.get(ev.business, 0):
            self.counters[ev.business] = n
        if ev.serial >= self.next_serial:
            self.next_serial = ev.serial + 1
        self._enqueue(t)

    def _on_called(self, ev: e.TicketCalled) -> None:
        t = self.tickets[ev.ticket]
        w = self.windows[ev.window]
        if t.status == "waiting":
            self._dequeue(t)
        self.skipped.pop(t.id, None)
        t.status = "called"
        t.window = w.id
        t.clerk = w.clerk
        t.called_at = ev.at
        if t.first_called_at is None:
            t.first_called_at = ev.at
        t.recalls = 0
        t.to_window = None
        w.current = t
        self._set_window(w, "calling", ev.at)

    def _on_recalled(self, ev: e.TicketRecalled) -> None:
        t = self.tickets[ev.ticket]
        t.recalls = ev.count
        t.called_at = ev.at
        self.plans.touch_window(ev.window)

    def _on_skipped(self, ev: e.TicketSkipped) -> None:
        t = self.tickets[ev.ticket]
        t.status = "skipped"
        self.skipped.pop(t.id, None)  # skipped again after a call-back: now the newest
        self.skipped[t.id] = t
        w = self.windows[ev.window]
        w.current = None
        self._set_window(w, "idle", ev.at)

    def _on_started(self, ev: e.ServiceStarted) -> None:
        t = self.tickets[ev.ticket]
        t.status = "serving"
        t.started_at = ev.at
        self._set_window(self.windows[ev.window], "serving", ev.at)

    def _on_finished(self, ev: e.TicketFinished) -> None:
        t = self.tickets[ev.ticket]
        t.status = "done"
        t.finished_at = ev.at
        t.outcome = ev.outcome
        if t.started_at is None:
            t.started_at = ev.started_at
        w = self.windows[ev.window]
        w.current = None
        w.served += 1
        w.busy_s[ev.business] = w.busy_s.get(ev.business, 0.0) + ev.service_s
        self._set_window(w, "idle", ev.at)
        if 10.0 <= ev.service_s <= 3 * 3600:  # a mis-key (finish right after call) is not a measurement
            avg = self.service_avg.get(ev.business, self.hall.default_service_s)
            self.service_avg[ev.business] = avg + EWMA_ALPHA * (ev.service_s - avg)
            own = self.window_service.get((w.id, ev.business))
            if own is None:
                self.window_service[(w.id, ev.business)] = [ev.service_s, 1]
            else:
                own[0] += EWMA_ALPHA * (ev.service_s - own[0])
                own[1] += 1
            self.plans.touch_business(ev.business)

    def _on_transferred(self, ev: e.TicketTransferred) -> None:
        t = self.tickets[ev.ticket]
        w = self.windows[ev.window]
        w.current = None
        self._set_window(w, "idle", ev.at)
        t.status = "waiting"
        t.window = None
        t.started_at = None
        t.parked_s = 0.0
        t.transfers += 1
        if ev.to_business is not None:
            t.business = ev.to_business
        t.to_window = ev.to_window
        # Sent to the back: its time in line starts again (and so does the max-wait count).
        t.queued_at = ev.at if ev.place == "end" else t.issued_at
        self._enqueue(t, ev.place)

    def _on_parked(self, ev: e.TicketParked) -> None:
        t = self.tickets[ev.ticket]
        w = self.windows[ev.window]
        t.status = "parked"
        t.parked_at = ev.at
        w.current = None
        w.parked[t.id] = t
        self._set_window(w, "idle", ev.at)

    def _on_unparked(self, ev: e.TicketUnparked) -> None:
        t = self.tickets[ev.ticket]
        w = self.windows[ev.window]
        w.parked.pop(t.id, None)
        t.status = "serving"
        t.parked_s += max(0.0, ev.at - (t.parked_at or ev.at))
        t.parked_at = None
        w.current = t
        self._set_window(w, "serving", ev.at)

    def _on_cancelled(self, ev: e.TicketCancelled) -> None:
        t = self.tickets.get(ev.ticket)
        if t is None:  # yesterday's ticket closed at the day's roll-over
            return
        self._dequeue(t)
        if t.window is not None and t.status in ("called", "serving"):
            w = self.windows[t.window]
            if w.current is t:
                w.current = None
                self._set_window(w, "idle", ev.at)
        t.status = "cancelled"
        t.cancel_reason = ev.reason

    def _on_case_bound(self, ev: e.CaseBound) -> None:
        self.bound_projects[ev.project_no] = ev.case
        if ev.case >= self.next_serial:  # case ids come from the serial counter
            self.next_serial = ev.case + 1

    def _on_window_opened(self, ev: e.WindowOpened) -> None:
        self._set_window(self.windows[ev.window], "idle", ev.at)

    def _on_paused(self, ev: e.WindowPaused) -> None:
        w = self.windows[ev.window]
        w.pause_reason = ev.reason
        self._set_window(w, "paused", ev.at)

    def _on_resumed(self, ev: e.WindowResumed) -> None:
        w = self.windows[ev.window]
        w.pause_reason = None
        self._set_window(w, "idle", ev.at)

    def _on_window_closed(self, ev: e.WindowClosed) -> None:
        self._set_window(self.windows[ev.window], "closed", ev.at)

    def _on_signed_in(self, ev: e.ClerkSignedIn) -> None:
        w = self.windows[ev.window]
        w.clerk = ev.clerk
        self.clerk_at[ev.clerk] = w.id
        if w.state == "closed":
            self._set_window(w, "idle", ev.at)

    def _on_signed_out(self, ev: e.ClerkSignedOut) -> None:
        w = self.windows[ev.window]
        if w.clerk == ev.clerk:
            w.clerk = None
        if self.clerk_at.get(ev.clerk) == w.id:
            del self.clerk_at[ev.clerk]

    def _on_day_started(self, ev: e.DayStarted) -> None:
        self._reset_day()
        self.bound_projects.clear()
        self.day = ev.day

    def _on_day_closed(self, ev: e.DayClosed) -> None:
        self.day_closed = True
        self.plans.reset()

