"""The hall engine: decides what a command means (events) and applies them through HallState.

`execute(cmd, now)` validates against the current state, raises a CoreError (nothing changed) or
returns the events it applied. Window balancing (`pick`) is here; state and queries in state.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from queued.core import commands as c
from queued.core import events as e
from queued.core.balance import choose
from queued.core.calendar import HallCalendar
from queued.core.dayphase import hhmm
from queued.core.errors import (
    AlreadyWaiting,
    Closed,
    CoreError,
    DuplicateCase,
    InvalidState,
    NotHolder,
    NotThisWindow,
    QuotaExhausted,
    RecallLimit,
    UnknownBusiness,
    UnknownClerk,
    UnknownTicket,
)
from queued.core.hall import HallConfig
from queued.core.phone import normalize_phone
from queued.core.state import STATE_TEXT, HallState
from queued.core.tickets import Ticket, WindowState, holder_proof

__all__ = ["Engine", "STATE_TEXT", "PLACES", "ticket_number"]

PLACES = ("front", "end", "issued")  # where a transfer waits again (http-api.md, transfer)
NOTE_MAX = 500


def ticket_number(business: str, n: int) -> str:
    return f"{business}{n:03d}"


class Engine(HallState):
    def __init__(self, hall: HallConfig, calendar: HallCalendar, day: str | None = None):
        super().__init__(hall, calendar, day)
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
            c.BindCase: self._bind_case,
            c.Park: self._park,
            c.Unpark: self._unpark,
            c.CloseOutDay: self._close_out,
            c.RollDay: lambda cmd, now: [],  # the roll-over itself happens in execute()
        }

    # ---- entry point ---------------------------------------------------------------------------

    def execute(self, cmd: object, now: float) -> list[e.Event]:
        handler = self._execute.get(type(cmd))
        if handler is None:
            raise CoreError(f"unknown command {type(cmd).__name__}")
        out: list[e.Event] = []
        day = self.calendar.day(now)
        if day != self.day:
            out.extend(self._roll_day(day, now))
        if getattr(cmd, "as_clerk", None) is not None:
            out.extend(self._as_clerk(cmd, handler, now))
        else:
            out.extend(handler(cmd, now))
        return out

    def _as_clerk(self, cmd: c.WindowCommand, handler, now: float) -> list[e.Event]:
        """The action of a token that names a clerk: sign that clerk in, then act, as one decision.

        The sign-in's events are applied first, so the action decides on the window it will really
        find (a closed window is open once the clerk sits down). Should the action be refused, the
        few fields those events touched are put back: the clerk stays where they were. This relies
        on every handler checking before it emits, as all of them do."""
        w = self.window(cmd.window)
        if w.clerk == cmd.as_clerk:
            return handler(cmd, now)
        elsewhere = self.windows.get(self.clerk_at.get(cmd.as_clerk, ""))
        touched = [x for x in (w, elsewhere) if x is not None]
        saved = ([(x, x.state, x.since, x.clerk) for x in touched], dict(self.clerk_at), dict(self.open_windows))
        out = self._sign_in(c.SignIn(w.id, clerk=cmd.as_clerk), now)
        try:
            out.extend(handler(cmd, now))
        except CoreError:
            windows, self.clerk_at, self.open_windows = saved
            for x, state, since, clerk in windows:
                x.state, x.since, x.clerk = state, since, clerk
            raise
        return out

    # ---- decisions: tickets ------------------------------------------------------------------

    def _issue(self, cmd: c.IssueTicket, now: float) -> list[e.Event]:
        b = self.hall.business_index.get(cmd.business)
        if b is None:
            raise UnknownBusiness(f"没有业务 {cmd.business!r}（Unknown business {cmd.business!r}.）")
        if cmd.priority not in ("normal", "green"):
            raise CoreError(f"priority must be 'normal' or 'green', not {cmd.priority!r}")
        minute = self.calendar.minute(now)
        hall = self.hall
        if not hall.days.is_service_day(self.day):
            raise Closed(f"今日不对外办理，请在办事日前来（{self.day} is not a service day of the hall.）")
        if self.day_closed or (hall.hard_close_minute is not None and minute >= hall.hard_close_minute):
            raise Closed(f"今日服务已结束（{b.name}: the hall has closed for today.）")
        if cmd.due_at is None:  # a booked slot was accepted when it was booked: it still checks in
            ends = hall.issuing_ends_minute
            if ends is not None and minute >= ends:
                raise Closed(f"今日{hhmm(ends)}取号已截止，请明天再来（issuing ended at {hhmm(ends)}.）")
            if not b.is_open(minute):
                raise Closed(f"{b.name}不在取号时间，取号时间 {b.hours_text()}（Outside issuing hours.）")
        elif hall.closes_minute is not None and minute >= hall.closes_minute:
            raise Closed(f"今日预约签到已于{hhmm(hall.closes_minute)}结束（check-in ended at closing time.）")
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
                            cmd.channel, cmd.priority, cmd.openid or None, cmd.due_at, cmd.appointment,
                            cmd.rating_key or None)
        self.apply(ev)
        return [ev]

    def _cancel(self, cmd: c.CancelTicket, now: float) -> list[e.Event]:
        t = self.ticket(cmd.ticket)
        if cmd.check_holder and holder_proof(t.rating_key, t.openid, cmd.key, cmd.openid) is None:
            raise NotHolder("只有取号人可以取消这张票（only the holder may cancel this ticket: scan its QR code "
                            "or use the WeChat account that took it）")
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

    def _close_out(self, cmd: c.CloseOutDay, now: float) -> list[e.Event]:
        """`hard_close`: close out what still waits (留号); whoever is at a window is still served."""
        if self.day_closed:
            return []
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

    def _finish_current(self, w: WindowState, now: float, out: list[e.Event], outcome: str = "done",
                        note: str = "") -> None:
        t = w.current
        assert t is not None
        started = t.started_at if t.started_at is not None else (t.called_at or now)
        first_call = t.first_called_at if t.first_called_at is not None else started
        service = max(0.0, now - started - t.parked_s)
        closes = self.closes_at()
        extended = 0.0 if closes is None or now <= closes else min(service, now - max(started, closes))
        self._emit(out, e.TicketFinished(now, t.id, w.id, w.clerk, t.serial, t.business, t.number, started,
                                         max(0.0, first_call - t.issued_at), service, outcome, note,
                                         round(extended, 3)))

    def pick(self, w: WindowState, now: float) -> Ticket | None:
        """Whom `w` calls next (queued/core/balance.py): O(businesses of the window)."""
        return choose(w.businesses, self.queues, w.directed, w.later, now - self.hall.max_wait_s,
                      now + self.hall.appointment_early_s, self.hall.max_wait_s)

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
        # Only a ticket this window serves, one sent to it, or one it skipped itself (its call-back list).
        if t.business not in w.businesses and t.to_window != w.id and not (t.status == "skipped" and t.window == w.id):
            raise NotThisWindow(f"{t.number} 不是{w.id}号窗口办理的业务，不能特呼（not a ticket of this window）")
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
        outcome = cmd.outcome or "done"
        if outcome != "done" and outcome not in self.hall.outcomes:
            raise CoreError(f"办结结果只能是 {'、'.join(self.hall.outcomes)}（unknown outcome {outcome!r}）")
        note = (cmd.note or "").strip()
        if len(note) > NOTE_MAX:
            raise CoreError(f"说明不超过 {NOTE_MAX} 字（note longer than {NOTE_MAX} characters）")
        if outcome == "failed" and not note:
            raise CoreError("办不成事须填写原因说明（a failed case needs a note）")
        self._require(w, "calling", "serving")
        out: list[e.Event] = []
        self._finish_current(w, now, out, outcome, note)
        return out

    def _pause(self, cmd: c.Pause, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        reason = cmd.reason or None
        if reason is not None and reason not in self.hall.pause_reasons:
            raise CoreError(f"暂停原因只能是 {'、'.join(self.hall.pause_reasons)}（unknown pause reason {reason!r}）")
        self._require(w, "idle", "closed")
        ev = e.WindowPaused(now, w.id, reason)
        self.apply(ev)
        return [ev]

    def _park(self, cmd: c.Park, now: float) -> list[e.Event]:
        """挂起: set the serving case aside; the window is free to call others."""
        w = self.window(cmd.window)
        reason = (cmd.reason or "").strip()
        if len(reason) > NOTE_MAX:
            raise CoreError(f"挂起原因不超过 {NOTE_MAX} 字（reason longer than {NOTE_MAX} characters）")
        self._require(w, "serving")
        ev = e.TicketParked(now, w.current.id, w.id, w.clerk, reason)
        self.apply(ev)
        return [ev]

    def _unpark(self, cmd: c.Unpark, now: float) -> list[e.Event]:
        """回呼: a case this window parked is its current case again."""
        w = self.window(cmd.window)
        t = w.parked.get(cmd.ticket)
        if t is None:
            raise UnknownTicket(f"{w.id}号窗口没有挂起这张票（ticket {cmd.ticket!r} is not parked at window {w.id}）")
        self._require(w, "idle", "closed")
        out: list[e.Event] = []
        self._open_if_closed(w, now, out)
        self._emit(out, e.TicketUnparked(now, t.id, w.id, w.clerk))
        return out

    def _resume(self, cmd: c.Resume, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "paused")
        ev = e.WindowResumed(now, w.id, round(max(0.0, now - w.since), 3), w.pause_reason, w.clerk)
        self.apply(ev)
        return [ev]

    def _close_window(self, cmd: c.CloseWindow, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        self._require(w, "idle", "paused", "closed")
        if w.state == "closed":
            return []
        if w.state == "paused":
            ev = e.WindowClosed(now, w.id, round(max(0.0, now - w.since), 3), w.pause_reason, w.clerk)
        else:
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
        if cmd.place not in PLACES:
            raise CoreError(f"place 只能是 {'、'.join(PLACES)}（place must be one of {', '.join(PLACES)}）")
        ev = e.TicketTransferred(now, w.current.id, w.id, cmd.business, cmd.to_window, cmd.place)
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


    # ---- decisions: 办件 ------------------------------------------------------------------------

    def _bind_case(self, cmd: c.BindCase, now: float) -> list[e.Event]:
        w = self.window(cmd.window)
        t = w.current
        if t is None or w.state not in ("calling", "serving"):
            raise InvalidState(f"{w.id}号窗口当前没有正在办理的号，不能绑定办件（state: {w.state}, no current ticket）")
        if cmd.project_no in self.bound_projects:
            raise DuplicateCase(f"办件 {cmd.project_no} 已绑定过（project_no {cmd.project_no!r} is already bound）")
        phone = normalize_phone(cmd.applicant_phone, "applicant_phone")  # checked before anything changes
        ev = e.CaseBound(now, self.next_serial, t.id, w.id, cmd.project_no, cmd.item_code, cmd.item_name,
                         cmd.dept_code, cmd.applicant_name, cmd.applicant_id, phone,
                         cmd.applicant_type)
        self.apply(ev)
        return [ev]
