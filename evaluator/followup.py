"""差评 follow-up (整改): every 差评 becomes an item the window's leader works through.

    open ──callback──▶ called_back ──rectify──▶ rectified ──verdict──▶ closed
      │  (contacted=no: stays open, attempt counted; rectify is then allowed: citizen unreachable)
      └──────────── appeal (申诉) ──▶ appealed ──decide──▶ removed (upheld: rating excluded)
                                               └──────────▶ back to where it was (rejected)

A pure component of the runtime (`commands`, `execute`, `apply`, `prepare`): its events are
journaled and replayed like the engine's. The deadline is fixed when the item opens: the case's
day plus `review_deadline_working_days` working days (evaluator.workdays), due at the end of that
day; an item past it and not finished is overdue (computed when read, never journaled).
Tables: `followups` (one row per item), `followup_actions` (its history), `rating_exclusions`
(ratings removed from the rates by an upheld appeal; the history stays in `ratings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from evaluator.errors import EvaluatorError
from queued.core.calendar import HallCalendar
from queued.core.events import Event, event


class UnknownFollowup(EvaluatorError):
    code = "not_found"  # 404


class FollowupStateError(EvaluatorError):
    code = "invalid_state"  # 409: the action does not fit the item's state


STATE_TEXT = {"open": "待回访", "called_back": "已回访", "rectified": "已整改", "closed": "已办结",
              "appealed": "申诉中", "removed": "申诉成立（已剔除）"}
FINISHED = ("closed", "removed")  # nothing more to do; never overdue
RECT_MODES = ("immediate", "plan")  # 立行立改 | 整改计划 (with a date)
VERDICTS = ("satisfied", "dissatisfied", "unreachable")  # the citizen's judgement of the fix

# ---- commands -----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class OpenFollowup:
    case: int
    ticket: str
    day: str  # the case's hall day: the deadline counts from it
    business: str
    window: str
    clerk: str | None
    level: int
    reasons: int
    comment: str
    channel: str
    named: bool  # the citizen can be reached (WeChat): 实名差评 must all be called back


@dataclass(slots=True, frozen=True)
class RecordCallback:
    case: int
    by: str
    contacted: bool
    note: str = ""
    called_at: float | None = None  # when the call took place; None = now


@dataclass(slots=True, frozen=True)
class RecordRectification:
    case: int
    by: str
    mode: str  # immediate | plan
    note: str = ""
    plan_date: str | None = None  # required for a plan


@dataclass(slots=True, frozen=True)
class RecordVerdict:
    case: int
    by: str
    verdict: str  # satisfied | dissatisfied | unreachable
    note: str = ""


@dataclass(slots=True, frozen=True)
class FileAppeal:
    case: int
    by: str
    reason: str


@dataclass(slots=True, frozen=True)
class DecideAppeal:
    case: int
    by: str
    upheld: bool
    note: str = ""


# ---- events -------------------------------------------------------------------------------------


@event("followup_opened")
class FollowupOpened(Event):
    at: float
    case: int
    ticket: str
    day: str
    business: str
    window: str
    clerk: str | None
    leader: str | None
    level: int
    reasons: int
    comment: str
    channel: str
    named: bool
    deadline: str  # the last working day (YYYY-MM-DD)
    due_at: float  # end of the deadline day: overdue after this


@event("followup_called_back")
class FollowupCalledBack(Event):
    at: float
    case: int
    by: str
    contacted: bool
    note: str
    called_at: float
    attempt: int  # 1 for the first call: replay sets it rather than counting


@event("followup_rectified")
class FollowupRectified(Event):
    at: float
    case: int
    by: str
    mode: str
    note: str
    plan_date: str | None


@event("followup_closed")
class FollowupClosed(Event):
    at: float
    case: int
    by: str
    verdict: str
    note: str


@event("followup_appealed")
class FollowupAppealed(Event):
    at: float
    case: int
    by: str
    reason: str
    previous: str  # the state to return to if the appeal is rejected


@event("followup_appeal_decided")
class FollowupAppealDecided(Event):
    at: float
    case: int
    by: str
    upheld: bool
    note: str
    back_to: str  # removed when upheld, else the state before the appeal


class Item:
    """What the component needs to decide: the state, not the whole record (that is in SQLite)."""

    __slots__ = ("case", "state", "attempts", "appealed", "previous", "window", "leader", "due_at")

    def __init__(self, case: int, state: str, attempts: int = 0, appealed: bool = False,
                 previous: str | None = None, window: str = "", leader: str | None = None, due_at: float = 0.0):
        self.case, self.state, self.attempts, self.appealed = case, state, attempts, appealed
        self.previous = previous  # the state before the appeal
        self.window, self.leader, self.due_at = window, leader, due_at


class FollowupBook:
    """The runtime component. `items` holds every item's state (差评 are few: thousands a year)."""

    commands = (OpenFollowup, RecordCallback, RecordRectification, RecordVerdict, FileAppeal, DecideAppeal)

    def __init__(self, config, calendar: HallCalendar):
        self.calendar = calendar
        self.workdays = config.hall.days  # the hall's one calendar (working days count for deadlines)
        self.deadline_days = config.review_deadline_working_days
        self.leaders: dict[str, str] = dict(config.window_leaders)
        self.items: dict[int, Item] = {}
        self._execute = {
            OpenFollowup: self._open, RecordCallback: self._callback, RecordRectification: self._rectify,
            RecordVerdict: self._verdict, FileAppeal: self._appeal, DecideAppeal: self._decide,
        }
        self._apply = {
            FollowupOpened: self._on_opened, FollowupCalledBack: self._on_called_back,
            FollowupRectified: self._on_rectified, FollowupClosed: self._on_closed,
            FollowupAppealed: self._on_appealed, FollowupAppealDecided: self._on_decided,
        }

    async def prepare(self, journal, day: str) -> None:
        """Load every item's state; today's events then replay on top (applying is idempotent:
        each event sets fields, so replaying a suffix of the history ends in the same state)."""
        rows = await journal.fetchall(
            "SELECT case_id, state, attempts, appealed_at, appeal_from, window, leader, due_at FROM followups")
        for r in rows:
            self.items[r["case_id"]] = Item(r["case_id"], r["state"], r["attempts"], r["appealed_at"] is not None,
                                            r["appeal_from"], r["window"], r["leader"], r["due_at"])

    def deadline(self, day: str) -> tuple[str, float]:
        last = self.workdays.add_workdays(day, self.deadline_days)
        after = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
        return last, self.calendar.day_start(after)

    def item(self, case: int) -> Item:
        it = self.items.get(case)
        if it is None:
            raise UnknownFollowup(f"没有办件 {case} 的差评整改记录（no follow-up for case {case}）")
        return it

    def overdue(self, it: Item, now: float) -> bool:
        return it.state not in FINISHED and it.state != "appealed" and now >= it.due_at

    # ---- decisions --------------------------------------------------------------------------------

    def execute(self, cmd, now: float) -> list[Event]:
        ev = self._execute[type(cmd)](cmd, now)
        self.apply(ev)
        return [ev]

    @staticmethod
    def _refuse(it: Item, action: str, allowed: str) -> FollowupStateError:
        return FollowupStateError(f"办件 {it.case} 当前状态为「{STATE_TEXT[it.state]}」，不能{action}"
                                  f"（state is {it.state}; {allowed}）")

    def _open(self, cmd: OpenFollowup, now: float) -> Event:
        if cmd.case in self.items:
            raise FollowupStateError(f"办件 {cmd.case} 已有整改记录（case {cmd.case} already has a follow-up）")
        deadline, due_at = self.deadline(cmd.day)
        return FollowupOpened(now, cmd.case, cmd.ticket, cmd.day, cmd.business, cmd.window, cmd.clerk,
                              self.leaders.get(cmd.window), cmd.level, cmd.reasons, cmd.comment, cmd.channel,
                              cmd.named, deadline, due_at)

    def _callback(self, cmd: RecordCallback, now: float) -> Event:
        it = self.item(cmd.case)
        if it.state not in ("open", "called_back"):
            raise self._refuse(it, "登记回访", "a call-back is recorded while open or called back")
        if not isinstance(cmd.note, str) or not cmd.note.strip():
            raise EvaluatorError("请填写回访记录：与群众沟通的内容；未联系上的，写明拨打的时间和情况"
                                 "（a call-back needs a note of what was said）")
        called_at = now if cmd.called_at is None else cmd.called_at
        if called_at > now + 60:
            raise EvaluatorError("回访时间不能晚于现在（called_at is in the future）")
        return FollowupCalledBack(now, cmd.case, cmd.by, cmd.contacted, cmd.note, called_at, it.attempts + 1)

    def _rectify(self, cmd: RecordRectification, now: float) -> Event:
        it = self.item(cmd.case)
        if not (it.state == "called_back" or (it.state == "open" and it.attempts > 0)):
            raise self._refuse(it, "登记整改（须先回访）", "call the citizen back first")
        if cmd.mode not in RECT_MODES:
            raise EvaluatorError(f"整改方式只能是 {', '.join(RECT_MODES)}（mode must be one of {list(RECT_MODES)}）")
        if cmd.mode == "plan":
            if not cmd.plan_date:
                raise EvaluatorError("整改计划须有完成日期（a plan needs plan_date）")
            if cmd.plan_date < self.calendar.day(now):
                raise EvaluatorError("整改计划日期不能早于今天（plan_date is in the past）")
        elif cmd.plan_date:
            raise EvaluatorError("立行立改不需要计划日期（plan_date only goes with mode plan）")
        return FollowupRectified(now, cmd.case, cmd.by, cmd.mode, cmd.note, cmd.plan_date)

    def _verdict(self, cmd: RecordVerdict, now: float) -> Event:
        it = self.item(cmd.case)
        if it.state != "rectified":
            raise self._refuse(it, "登记群众评价（须先整改）", "record the rectification first")
        if cmd.verdict not in VERDICTS:
            raise EvaluatorError(f"评价只能是 {', '.join(VERDICTS)}（verdict must be one of {list(VERDICTS)}）")
        return FollowupClosed(now, cmd.case, cmd.by, cmd.verdict, cmd.note)

    def _appeal(self, cmd: FileAppeal, now: float) -> Event:
        it = self.item(cmd.case)
        if it.state not in ("open", "called_back", "rectified"):
            raise self._refuse(it, "申诉", "an appeal is filed before the item is closed")
        if it.appealed:
            raise FollowupStateError(f"办件 {it.case} 已申诉过一次（case {it.case} was appealed before）")
        if not cmd.reason.strip():
            raise EvaluatorError("申诉须写明理由（an appeal needs a reason）")
        return FollowupAppealed(now, cmd.case, cmd.by, cmd.reason, it.state)

    def _decide(self, cmd: DecideAppeal, now: float) -> Event:
        it = self.item(cmd.case)
        if it.state != "appealed":
            raise self._refuse(it, "审核申诉", "only an appealed item can be decided")
        back = "removed" if cmd.upheld else (it.previous or "open")
        return FollowupAppealDecided(now, cmd.case, cmd.by, cmd.upheld, cmd.note, back)

    # ---- state: every handler assigns, so replay over the loaded state is idempotent ----------------

    def apply(self, ev: Event) -> None:
        fn = self._apply.get(type(ev))
        if fn is not None:
            fn(ev)

    def _on_opened(self, ev: FollowupOpened) -> None:
        self.items[ev.case] = Item(ev.case, "open", 0, False, None, ev.window, ev.leader, ev.due_at)

    def _on_called_back(self, ev: FollowupCalledBack) -> None:
        it = self.items[ev.case]
        it.attempts = ev.attempt
        if ev.contacted:
            it.state = "called_back"

    def _on_rectified(self, ev: FollowupRectified) -> None:
        self.items[ev.case].state = "rectified"

    def _on_closed(self, ev: FollowupClosed) -> None:
        self.items[ev.case].state = "closed"

    def _on_appealed(self, ev: FollowupAppealed) -> None:
        it = self.items[ev.case]
        it.state, it.appealed, it.previous = "appealed", True, ev.previous

    def _on_decided(self, ev: FollowupAppealDecided) -> None:
        self.items[ev.case].state = ev.back_to
