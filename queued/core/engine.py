"""The hall engine: decides what a command means (events) and applies events to the state.

`execute(cmd, now)` validates against the current state, raises a CoreError (nothing changed) or
returns the events it applied. `apply(event)` is the only mutator; replay calls it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from queued.core import commands as c
from queued.core import events as e
from queued.core.calendar import HallCalendar
from queued.core.errors import (
    AlreadyWaiting,
    Closed,
    CoreError,
    InvalidState,
    NotHolder,
    QuotaExhausted,
    RecallLimit,
    UnknownBusiness,
    UnknownClerk,
    UnknownTicket,
    UnknownWindow,
)
from queued.core.hall import HallConfig
from queued.core.queues import BusinessQueue, Lane
from queued.core.tickets import Ticket, WindowState

STATE_TEXT = {"closed": "未开窗", "idle": "空闲", "calling": "呼叫中", "serving": "办理中", "paused": "暂停服务"}
EWMA_ALPHA = 0.2  # weight of the newest case in a business's moving-average service time


def ticket_number(business: str, n: int) -> str:
    return f"{business}{n:03d}"


class Engine:
    def __init__(self, hall: HallConfig, calendar: HallCalendar, day: str | None = None):
        self.hall = hall
        self.calendar = calendar
        self.day = day or ""
        self.next_serial = 1
        self.service_avg: dict[str, float] = {b.code: hall.default_service_s for b in hall.businesses}
        self.day_closed = False
        self._reset_day()
        self._execute: dict[type, Callable[[Any, float], list[e.Event]]] = {
            c.IssueTicket: self._issue,
            c.CancelTicket: self._cancel,
            c.CallNext: self._call_next,
            c.Recall: self._recall,
            c.Skip: self._skip,
            c.Start: self._start,
            c.Finish: self._finish,
            c.Pause: self._pause,
            c.Resume: self._resume,
            c.CloseWindow: self._close_window,
            c.Transfer: self._transfer,
            c.CallNumber: self._call_number,
            c.SignIn: self._sign_in,
            c.SignOut: self._sign_out,
            c.CloseDay: self._close_day,
        }
        self._apply: dict[type, Callable[[Any], None]] = {
            e.TicketIssued: self._on_issued,
            e.TicketCalled: self._on_called,
            e.TicketRecalled: self._on_recalled,
            e.TicketSkipped: self._on_skipped,
            e.ServiceStarted: self._on_started,
            e.TicketFinished: self._on_finished,
            e.TicketTransferred: self._on_transferred,
            e.TicketCancelled: self._on_cancelled,
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
            w.id: WindowState(w.id, w.businesses, Lane("window")) for w in hall.windows
        }
        self.open_windows: dict[str, int] = {b.code: 0 for b in hall.businesses}
        self.holders: dict[tuple[str, str], Ticket] = {}  # (openid, business) → waiting ticket
        self.clerk_at: dict[str, str] = {}  # clerk id → window id
        self.day_closed = False

    # ---- entry points ------------------------------------------------------------------------

    def execute(self, cmd: object, now: float) -> list[e.Event]:
        handler = self._execute.get(type(cmd))
        if handler is None:
            raise CoreError(f"unknown command {type(cmd).__name__}")
        out: list[e.Event] = []
        day = self.calendar.day(now)
        if day != self.day:
            out.extend(self._roll_day(day, now))
        out.extend(handler(cmd, now))
        return out

    def apply(self, ev: e.Event) -> None:
        fn = self._apply.get(type(ev))
        if fn is not None:  # events of other packages (ratings) pass through the same journal
            fn(ev)

    def replay(self, events: Iterable[e.Event]) -> int:
        n = 0
        apply = self.apply
        for ev in events:
            apply(ev)
            n += 1
        return n

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

    def position(self, t: Ticket) -> int | None:
        if t.status != "waiting" or t.lane is None:
            return None
        if t.to_window is not None:
            return t.lane.rank(t) + 1
        return self.queues[t.business].position(t)

    def eta_seconds(self, t: Ticket, position: int | None = None) -> int | None:
        pos = self.position(t) if position is None else position
        if pos is None:
            return None
        windows = 1 if t.to_window is not None else max(1, self.open_windows.get(t.business, 0))
        return int(round(pos * self.service_avg.get(t.business, self.hall.default_service_s) / windows))

    def waiting(self, business: str) -> int:
        return self.queues[business].waiting

    def waiting_for_window(self, window_id: str) -> int:
        w = self.windows[window_id]
        n = sum(self.queues[b].waiting for b in w.businesses)
        if w.directed.alive:  # sent here from a business this window does not serve
            n += sum(1 for t in w.directed.items if t.lane is w.directed and t.business not in w.businesses)
        return n

    def ticket_view(self, t: Ticket) -> dict[str, Any]:
        pos = self.position(t)
        view = {
            "id": t.id,
            "number": t.number,
            "business": t.business,
            "business_name": self.hall.business_index[t.business].name,
            "status": t.status,
            "position": pos,
            "eta_seconds": self.eta_seconds(t, pos),
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
        }

    # ---- decisions: tickets ------------------------------------------------------------------

    def _issue(self, cmd: c.IssueTicket, now: float) -> list[e.Event]:
        b = self.hall.business_index.get(cmd.business)
        if b is None:
            raise UnknownBusiness(f"没有业务 {cmd.business!r}（Unknown business {cmd.business!r}.）")
        if cmd.priority not in ("normal", "green"):
            raise CoreError(f"priority must be 'normal' or 'green', not {cmd.priority!r}")
        minute = self.calendar.minute(now)
        if cmd.due_at is None:  # a booked slot was accepted when it was booked
            if self.day_closed or (self.hall.closes_minute is not None and minute >= self.hall.closes_minute):
                raise Closed(f"今日已停止取号（{b.name}: the hall has closed for today.）")
            if not b.is_open(minute):
                raise Closed(f"{b.name}不在取号时间，取号时间 {b.hours_text()}（Outside issuing hours.）")
        if cmd.openid:
            held = self.holders.get((cmd.openid, b.code))
            if held is not None:
                raise AlreadyWaiting(f"您已有{b.name}的号 {held.number} 在等候（Already holding {held.number}.）")
        n = self.counters[b.code] + 1
        if b.daily_cap is not None and n > b.daily_cap:
            raise QuotaExhausted(f"{b.name}今日号已取完（daily cap {b.daily_cap} reached）")
        if cmd.ticket_id in self.tickets:
            raise CoreError(f"ticket id {cmd.ticket_id!r} already used")
        ev = e.TicketIssued(now, cmd.ticket_id, self.next_serial, ticket_number(b.code, n), b.code,
                            cmd.channel, cmd.priority, cmd.openid or None, cmd.due_at, cmd.appointment)
        self.apply(ev)
        return [ev]

    def _cancel(self, cmd: c.CancelTicket, now: float) -> list[e.Event]:
        t = self.ticket(cmd.ticket)
        if cmd.check_holder and t.openid and cmd.openid != t.openid:
            raise NotHolder("只有取号人可以取消这张票（Only the holder may cancel this ticket.）")
        if t.status != "waiting":
            raise InvalidState(f"票 {t.number} 的状态是 {t.status}，不能取消（only a waiting ticket can be cancelled）")
        ev = e.TicketCancelled(now, t.id, cmd.reason)
        self.apply(ev)
        return [ev]

    def _roll_day(self, day: str, now: float) -> list[e.Event]:
        out: list[e.Event] = []
        if self.day:
            for t in list(self.tickets.values()):
                if t.status in ("waiting", "called", "serving"):
                    self._emit(out, e.TicketCancelled(now, t.id, "day_closed"))
        self._emit(out, e.DayStarted(now, day))
        return out

    def _close_day(self, cmd: c.CloseDay, now: float) -> list[e.Event]:
        out: list[e.Event] = []
        for t in list(self.tickets.values()):
            if t.status == "waiting":
                self._emit(out, e.TicketCancelled(now, t.id, "day_closed"))
        self._emit(out, e.DayClosed(now, self.day))
        return out

    # ---- decisions: windows ------------------------------------------------------------------

    def _open_if_closed(self, w: WindowState, now: float, out: list[e.Event]) -> None:
        if w.state == "closed":
            self._emit(out, e.WindowOpened(now, w.id))

    def _finish_current(self, w: WindowState, now: float, out: list[e.Event]) -> None:
        t = w.current
        assert t is not None
        started = t.started_at if t.started_at is not None else (t.called_at or now)
        first_call = t.first_called_at if t.first_called_at is not None else started
        self._emit(out, e.TicketFinished(now, t.id, w.id, w.clerk, t.serial, t.business, t.number,
                                         started, max(0.0, first_call - t.issued_at), max(0.0, now - started)))

    def pick(self, w: WindowState, now: float) -> Ticket | None:
        """The balancing rule: whom `w` calls next. One pass over the window's businesses, looking
        only at lane heads: O(businesses of the window), whatever the number waiting.

        Order: a ticket past the hall's max wait (the longest-waiting), then tickets a colleague sent
        to this very window, green channel (longest-waiting), transfers, booked appointments whose
        slot has come, then the window's preference order; early appointments rather than idling.
        """
        limit = now - self.hall.max_wait_s
        due = now + self.hall.appointment_early_s
        overdue = green = transfer = appt = normal = early = None
        queues = self.queues
        for code in w.businesses:
            q = queues[code]
            if not q.waiting:
                continue
            if q.green.alive:
                t = q.green.peek()
                if green is None or t.issued_at < green.issued_at:
                    green = t
                if t.issued_at <= limit and (overdue is None or t.issued_at < overdue.issued_at):
                    overdue = t
            if q.transfer.alive:
                t = q.transfer.peek()
                if transfer is None:
                    transfer = t
                if t.issued_at <= limit and (overdue is None or t.issued_at < overdue.issued_at):
                    overdue = t
            if q.normal.alive:
                t = q.normal.peek()
                if normal is None:
                    normal = t
                if t.issued_at <= limit and (overdue is None or t.issued_at < overdue.issued_at):
                    overdue = t
            if q.appointment.items:
                t = q.appointment.items[0][2]
                if (t.due_at or 0.0) <= due:
                    if appt is None or (t.due_at or 0.0) < (appt.due_at or 0.0):
                        appt = t
                elif early is None:
                    early = t
        if overdue is not None:  # nobody waits past the limit while this window could serve them
            return overdue
        if w.directed.alive:
            return w.directed.peek()
        return green or transfer or appt or normal or early

    def _call_next(self, cmd: c.CallNext, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        if w.state == "calling":
            raise InvalidState(f"{w.id}号窗口正在呼叫 {w.current.number}：请先过号或开始办理（state: calling）")
        if w.state == "paused":
            raise InvalidState(f"{w.id}号窗口暂停中，请先恢复（state: paused）")
        out: list[e.Event] = []
        self._open_if_closed(w, now, out)
        if w.state == "serving":
            self._finish_current(w, now, out)
        t = self.pick(w, now)
        if t is not None:
            self._emit(out, e.TicketCalled(now, t.id, w.id, w.clerk, False))
        return out

    def _call_number(self, cmd: c.CallNumber, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        t = self.by_number.get(cmd.number.strip().upper())
        if t is None:
            raise UnknownTicket(f"今日没有 {cmd.number} 号（No ticket numbered {cmd.number!r} today.）")
        if t.status not in ("waiting", "skipped"):
            raise InvalidState(f"{t.number} 的状态是 {t.status}，不能特呼（only waiting or skipped tickets）")
        if w.state in ("calling", "paused"):
            raise InvalidState(f"{w.id}号窗口状态为{STATE_TEXT[w.state]}，不能特呼（state: {w.state}）")
        out: list[e.Event] = []
        self._open_if_closed(w, now, out)
        if w.state == "serving":
            self._finish_current(w, now, out)
        self._emit(out, e.TicketCalled(now, t.id, w.id, w.clerk, True))
        return out

    def _require(self, w: WindowState, *states: str) -> None:
        if w.state not in states:
            allowed = "、".join(STATE_TEXT[s] for s in states)
            raise InvalidState(f"{w.id}号窗口当前{STATE_TEXT[w.state]}，此操作需要{allowed}（state: {w.state}）")

    def _recall(self, cmd: c.Recall, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "calling")
        t = w.current
        if t.recalls >= self.hall.max_recalls:
            raise RecallLimit(f"{t.number} 已重呼 {t.recalls} 次，已达上限，请过号（recall limit {self.hall.max_recalls}）")
        ev = e.TicketRecalled(now, t.id, w.id, t.recalls + 1)
        self.apply(ev)
        return [ev]

    def _skip(self, cmd: c.Skip, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "calling")
        ev = e.TicketSkipped(now, w.current.id, w.id)
        self.apply(ev)
        return [ev]

    def _start(self, cmd: c.Start, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "calling")
        ev = e.ServiceStarted(now, w.current.id, w.id)
        self.apply(ev)
        return [ev]

    def _finish(self, cmd: c.Finish, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "calling", "serving")
        out: list[e.Event] = []
        self._finish_current(w, now, out)
        return out

    def _pause(self, cmd: c.Pause, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "idle", "closed")
        ev = e.WindowPaused(now, w.id)
        self.apply(ev)
        return [ev]

    def _resume(self, cmd: c.Resume, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "paused")
        ev = e.WindowResumed(now, w.id)
        self.apply(ev)
        return [ev]

    def _close_window(self, cmd: c.CloseWindow, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "idle", "paused", "closed")
        if w.state == "closed":
            return []
        ev = e.WindowClosed(now, w.id)
        self.apply(ev)
        return [ev]

    def _transfer(self, cmd: c.Transfer, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "calling", "serving")
        if (cmd.business is None) == (cmd.to_window is None):
            raise CoreError("转移需要指定 business 或 window 之一（give either 'business' or 'window'）")
        if cmd.business is not None and cmd.business not in self.hall.business_index:
            raise UnknownBusiness(f"没有业务 {cmd.business!r}（Unknown business {cmd.business!r}.）")
        if cmd.to_window is not None:
            self.window(cmd.to_window)
            if cmd.to_window == w.id:
                raise InvalidState("不能转移到本窗口（cannot transfer to the same window）")
        ev = e.TicketTransferred(now, w.current.id, w.id, cmd.business, cmd.to_window)
        self.apply(ev)
        return [ev]

    def _sign_in(self, cmd: c.SignIn, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        if cmd.clerk not in self.hall.clerk_index:
            raise UnknownClerk(f"没有工号 {cmd.clerk}（Unknown clerk {cmd.clerk!r}.）")
        if w.clerk == cmd.clerk:
            return []
        out: list[e.Event] = []
        elsewhere = self.clerk_at.get(cmd.clerk)
        if elsewhere is not None:  # a clerk sits at one window at a time
            self._emit(out, e.ClerkSignedOut(now, elsewhere, cmd.clerk))
        if w.clerk is not None:
            self._emit(out, e.ClerkSignedOut(now, w.id, w.clerk))
        self._open_if_closed(w, now, out)
        self._emit(out, e.ClerkSignedIn(now, w.id, cmd.clerk))
        return out

    def _sign_out(self, cmd: c.SignOut, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        if w.clerk is None:
            return []
        ev = e.ClerkSignedOut(now, w.id, w.clerk)
        self.apply(ev)
        return [ev]

    # ---- apply: the only place state changes -------------------------------------------------

    def _enqueue(self, t: Ticket) -> None:
        q = self.queues[t.business]
        if t.to_window is not None:
            self.windows[t.to_window].directed.push(t)
        elif t.transfers:
            q.transfer.push(t)
        elif t.priority == "green":
            q.green.push(t)
        elif t.due_at is not None:
            q.appointment.push(t)
        else:
            q.normal.push(t)
        q.waiting += 1
        if t.openid:
            self.holders[(t.openid, t.business)] = t

    def _dequeue(self, t: Ticket) -> None:
        if t.lane is not None:
            t.lane.remove(t)
            self.queues[t.business].waiting -= 1
        if t.openid and self.holders.get((t.openid, t.business)) is t:
            del self.holders[(t.openid, t.business)]

    def _set_window(self, w: WindowState, state: str, at: float) -> None:
        was_open = w.state in ("idle", "calling", "serving")
        w.state = state
        w.since = at
        now_open = state in ("idle", "calling", "serving")
        if was_open != now_open:
            delta = 1 if now_open else -1
            for code in w.businesses:
                self.open_windows[code] += delta

    def _on_issued(self, ev: e.TicketIssued) -> None:
        t = Ticket(ev.ticket, ev.serial, ev.number, ev.business, ev.channel, ev.priority, ev.openid,
                   ev.at, ev.due_at, ev.appointment)
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

    def _on_skipped(self, ev: e.TicketSkipped) -> None:
        t = self.tickets[ev.ticket]
        t.status = "skipped"
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
        if t.started_at is None:
            t.started_at = ev.started_at
        w = self.windows[ev.window]
        w.current = None
        w.served += 1
        self._set_window(w, "idle", ev.at)
        if 10.0 <= ev.service_s <= 3 * 3600:  # a mis-key (finish right after call) is not a measurement
            avg = self.service_avg.get(ev.business, self.hall.default_service_s)
            self.service_avg[ev.business] = avg + EWMA_ALPHA * (ev.service_s - avg)

    def _on_transferred(self, ev: e.TicketTransferred) -> None:
        t = self.tickets[ev.ticket]
        w = self.windows[ev.window]
        w.current = None
        self._set_window(w, "idle", ev.at)
        t.status = "waiting"
        t.window = None
        t.started_at = None
        t.transfers += 1
        if ev.to_business is not None:
            t.business = ev.to_business
        t.to_window = ev.to_window
        self._enqueue(t)

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

    def _on_window_opened(self, ev: e.WindowOpened) -> None:
        self._set_window(self.windows[ev.window], "idle", ev.at)

    def _on_paused(self, ev: e.WindowPaused) -> None:
        self._set_window(self.windows[ev.window], "paused", ev.at)

    def _on_resumed(self, ev: e.WindowResumed) -> None:
        self._set_window(self.windows[ev.window], "idle", ev.at)

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
        self.day = ev.day

    def _on_day_closed(self, ev: e.DayClosed) -> None:
        self.day_closed = True
