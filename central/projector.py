"""What the central service reads out of a hall's events: pure, no database, no clock.

A batch of one hall's events is applied in order to the rows it touches (loaded by central/ingest.py
beforehand): tickets, cases, 差评 follow-ups and open pauses, mirroring the hall's own projections
(queued/journal/projection.py, evaluator/projection.py, evaluator/followup_store.py) so a city
figure for a hall equals the hall's own. The review rollup is kept by deltas: a case contributes
to one (day, window, clerk, business, dept) bucket, and when its rating changes (a late rating
replacing a time-out, an appeal upheld) its old contribution is taken out and the new one put in.

Kinds not listed in `APPLY` are stored by the service and not interpreted here; an event whose data
does not have the shape its kind promises is likewise kept and skipped (counted in `skipped`).
Where events carry a department code (`dept_code`, from 办件 bound to a ticket), it follows the
ticket to its case.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

TICKET_COLUMNS = ("ticket", "day", "serial", "number", "business", "channel", "priority", "issued_at",
                  "first_called_at", "started_at", "finished_at", "window", "clerk", "status", "cancel_reason",
                  "wait_s", "service_s", "dept")
CASE_COLUMNS = ("case_id", "ticket", "day", "business", "window", "clerk", "dept", "state", "level", "defaulted",
                "reasons", "excluded")
FOLLOWUP_COLUMNS = ("case_id", "ticket", "day", "business", "window", "clerk", "leader", "level", "reasons",
                    "comment", "channel", "named", "opened_at", "deadline", "due_at", "state", "attempts",
                    "contacted", "called_back_at", "rectified_at", "closed_at", "verdict", "updated_at")
WINDOW_COLUMNS = ("window", "paused_at", "pause_day", "reason")
COUNTS = ("served", "rated", "defaulted", "excluded", "l1", "l2", "l3", "l4", "l5")


class BadEvent(Exception):
    """An event whose data does not fit its kind: kept, not interpreted."""


def needs(events: list[dict]) -> tuple[set[str], set[int], set[str]]:
    # Cases are also loaded by ticket (central/ingest.py): the 办件 bound to a ticket finished now.
    """The ticket ids, case ids and windows a batch touches (to load before applying)."""
    tickets, cases, windows = set(), set(), set()
    for ev in events:
        d = ev["data"]
        t = d.get("ticket")
        if isinstance(t, str):
            tickets.add(t)
        c = d.get("case")
        if isinstance(c, int) and not isinstance(c, bool):
            cases.add(c)
        if ev["kind"].startswith("window_") and isinstance(d.get("window"), str):
            windows.add(d["window"])
    return tickets, cases, windows


class Profile:
    """The hall's names and lines (sent by its shipper): reasons for 差评 masks, `closes` for 延时."""

    def __init__(self, profile: dict[str, Any] | None):
        p = profile or {}
        reasons = p.get("reasons")
        self.reasons: list[str] = [str(r) for r in reasons] if isinstance(reasons, list) else []
        self.closes = p.get("closes") if isinstance(p.get("closes"), str) else None
        try:
            self.tz = ZoneInfo(str(p.get("timezone") or "Asia/Shanghai"))
        except Exception:
            self.tz = ZoneInfo("Asia/Shanghai")
        self._closes_at: dict[str, float | None] = {}

        depts = p.get("dept_codes")
        self.dept_codes: dict[str, str] = {str(k): str(v) for k, v in depts.items()} if isinstance(depts, dict) else {}

    def reason_names(self, mask: int) -> list[str]:
        if mask == 0:
            return [""]
        return [self.reasons[i] if i < len(self.reasons) else f"原因{i + 1}" for i in range(16) if mask >> i & 1]

    def closes_at(self, day: str) -> float | None:
        if self.closes is None:
            return None
        if day not in self._closes_at:
            try:
                h, m = map(int, self.closes.split(":"))
                d = dt.date.fromisoformat(day)
                self._closes_at[day] = dt.datetime(d.year, d.month, d.day, h, m, tzinfo=self.tz).timestamp()
            except ValueError:
                self._closes_at[day] = None
        return self._closes_at[day]


class BatchProjection:
    def __init__(self, profile: Profile, tickets: dict[str, dict], cases: dict[int, dict],
                 followups: dict[int, dict], windows: dict[str, dict]):
        self.profile = profile
        self.tickets, self.cases, self.followups, self.windows = tickets, cases, followups, windows
        self.cases_of: dict[str, list[int]] = defaultdict(list)  # ticket → its case ids
        for c in cases.values():
            self.cases_of[c["ticket"]].append(c["case_id"])
        self.dirty_tickets: set[str] = set()
        self.dirty_cases: set[int] = set()
        self.dirty_followups: set[int] = set()
        self.dirty_windows: set[str] = set()
        self.review: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COUNTS))
        self.reasons: dict[tuple, int] = defaultdict(int)
        self.window_time: dict[tuple, float] = defaultdict(float)
        self.skipped = 0

    # ---- applying ------------------------------------------------------------------------------

    def apply(self, kind: str, day: str, data: dict[str, Any]) -> None:
        fn = APPLY.get(kind)
        try:
            dept = data.get("dept_code")
            if isinstance(dept, str) and dept and kind != "case_bound" and isinstance(data.get("ticket"), str):
                t = self.tickets.get(data["ticket"])
                if t is not None and t["dept"] != dept:
                    t["dept"] = dept[:64]
                    self.dirty_tickets.add(data["ticket"])
            if fn is not None:
                fn(self, day, data)
        except (KeyError, TypeError, ValueError, AttributeError, BadEvent):
            self.skipped += 1

    def _ticket(self, data: dict) -> dict:
        t = self.tickets.get(_text(data["ticket"]))
        if t is None:
            raise BadEvent("unknown ticket")
        self.dirty_tickets.add(t["ticket"])
        return t

    def _case_change(self, case_id: int, change: Callable[[dict], None]) -> None:
        c = self.cases.get(case_id)
        if c is None:
            return  # as the hall: a rating of a case it never finished updates nothing
        self._contribute(c, -1)
        change(c)
        self._contribute(c, +1)
        self.dirty_cases.add(case_id)

    def _contribute(self, c: dict, sign: int) -> None:
        if c["state"] == "bound":
            return  # a 办件 not yet served is in no figure
        key = (c["day"], c["window"], c["clerk"] or "", c["business"], c["dept"] or "")
        row = self.review[key]
        row[0] += sign  # served
        level = c["level"]
        if level is None:
            return
        if c["excluded"]:
            row[3] += sign
            return
        row[1] += sign
        row[2] += sign if c["defaulted"] else 0
        row[3 + level] += sign  # l1 at index 4 … l5 at index 8
        if level <= 2:
            for reason in self.profile.reason_names(c["reasons"]):
                self.reasons[(*key, reason)] += sign

    # ---- output --------------------------------------------------------------------------------

    def review_rows(self) -> list[tuple]:
        return [(*k, *v) for k, v in self.review.items() if any(v)]

    def reason_rows(self) -> list[tuple]:
        return [(*k, n) for k, n in self.reasons.items() if n]


def _text(v: Any, limit: int = 200) -> str:
    if not isinstance(v, str):
        raise BadEvent("expected text")
    return v[:limit]


def _opt_text(v: Any, limit: int = 200) -> str | None:
    return None if v is None else _text(v, limit)


def _num(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise BadEvent("expected a number")
    return float(v)


def _opt_num(v: Any) -> float | None:
    return None if v is None else _num(v)


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadEvent("expected an integer")
    return v


# ---- the kinds the reports need --------------------------------------------------------------------


def _issued(p: BatchProjection, day: str, d: dict) -> None:
    tid = _text(d["ticket"])
    if tid in p.tickets:
        return  # as the hall's primary key: issued once
    dept = d.get("dept_code")
    p.tickets[tid] = {
        "ticket": tid, "day": day, "serial": _int(d.get("serial", 0)), "number": _text(d.get("number", ""), 16),
        "business": _text(d["business"], 16), "channel": _text(d.get("channel", ""), 16),
        "priority": _text(d.get("priority", "normal"), 16), "issued_at": _num(d["at"]), "first_called_at": None,
        "started_at": None, "finished_at": None, "window": None, "clerk": None, "status": "waiting",
        "cancel_reason": None, "wait_s": None, "service_s": None,
        "dept": dept[:64] if isinstance(dept, str) and dept else None}
    p.dirty_tickets.add(tid)


def _called(p: BatchProjection, day: str, d: dict) -> None:
    t = p._ticket(d)
    t["status"] = "called"
    t["first_called_at"] = t["first_called_at"] if t["first_called_at"] is not None else _num(d["at"])
    t["window"], t["clerk"] = _text(d["window"], 16), _opt_text(d.get("clerk"), 32)


def _skipped(p: BatchProjection, day: str, d: dict) -> None:
    p._ticket(d)["status"] = "skipped"


def _started(p: BatchProjection, day: str, d: dict) -> None:
    t = p._ticket(d)
    t["status"], t["started_at"] = "serving", _num(d["at"])


def _finished(p: BatchProjection, day: str, d: dict) -> None:
    t = p._ticket(d)
    at, started = _num(d["at"]), _num(d["started_at"])
    window, clerk = _text(d["window"], 16), _opt_text(d.get("clerk"), 32)
    t.update(status="done", started_at=started, finished_at=at, window=window, clerk=clerk,
             wait_s=_num(d["wait_s"]), service_s=_num(d["service_s"]))
    case_id = _int(d["case"])
    business = _text(d.get("business", t["business"]), 16)
    mine = [p.cases[i] for i in p.cases_of.get(t["ticket"], ())]
    bound = [c for c in mine if c["state"] == "bound"]
    if bound:  # 一事一评: every 办件 bound to the ticket is served with it
        for c in sorted(bound, key=lambda c: c["case_id"]):
            c.update(day=day, business=business, window=window, clerk=clerk, state="open",
                     dept=c["dept"] or t["dept"] or p.profile.dept_codes.get(business) or None)
            p._contribute(c, +1)
            p.dirty_cases.add(c["case_id"])
    elif case_id not in p.cases and not mine:
        # The ticket's implicit case (INSERT OR IGNORE, as the hall)
        dept = d.get("dept_code") if isinstance(d.get("dept_code"), str) and d.get("dept_code") else t["dept"]
        c = {"case_id": case_id, "ticket": t["ticket"], "day": day, "business": business, "window": window,
             "clerk": clerk, "dept": dept or p.profile.dept_codes.get(business) or None, "state": "open",
             "level": None, "defaulted": False, "reasons": 0, "excluded": False}
        p.cases[case_id] = c
        p.cases_of[t["ticket"]].append(case_id)
        p._contribute(c, +1)
        p.dirty_cases.add(case_id)
    closes = p.profile.closes_at(day)
    if closes is not None and at > closes:  # 延时服务: the part of the case served past closing time
        p.window_time[(day, window, "extended")] += at - max(started, closes)


def _case_bound(p: BatchProjection, day: str, d: dict) -> None:
    case_id = _int(d["case"])
    if case_id in p.cases:
        return  # as the hall's primary key: bound once
    t = p.tickets.get(_text(d["ticket"]))
    dept = d.get("dept_code")
    p.cases[case_id] = {
        "case_id": case_id, "ticket": _text(d["ticket"]), "day": day, "business": t["business"] if t else "",
        "window": _text(d.get("window", ""), 16), "clerk": None,
        "dept": dept[:64] if isinstance(dept, str) and dept else None, "state": "bound", "level": None,
        "defaulted": False, "reasons": 0, "excluded": False}
    p.cases_of[p.cases[case_id]["ticket"]].append(case_id)
    p.dirty_cases.add(case_id)


def _transferred(p: BatchProjection, day: str, d: dict) -> None:
    t = p._ticket(d)
    t["status"], t["started_at"] = "waiting", None
    if d.get("to_business") is not None:
        t["business"] = _text(d["to_business"], 16)


def _cancelled(p: BatchProjection, day: str, d: dict) -> None:
    t = p._ticket(d)
    t["status"], t["cancel_reason"] = "cancelled", _text(d.get("reason", ""), 32)


def _rated(p: BatchProjection, day: str, d: dict) -> None:
    level = _int(d["level"])
    if not 1 <= level <= 5:
        raise BadEvent("level")
    reasons = _int(d.get("reasons", 0))

    def change(c: dict) -> None:
        c.update(state="rated", level=level, defaulted=False, reasons=reasons)
        if isinstance(d.get("dept_code"), str) and d["dept_code"]:
            c["dept"] = d["dept_code"][:64]

    p._case_change(_int(d["case"]), change)


def _timed_out(p: BatchProjection, day: str, d: dict) -> None:
    level = d.get("level")
    if level is not None and not (isinstance(level, int) and 1 <= level <= 5):
        raise BadEvent("level")
    defaulted = level is not None
    p._case_change(_int(d["case"]), lambda c: c.update(state="defaulted" if defaulted else "unrated", level=level,
                                                         defaulted=defaulted, reasons=0))


def _followup(p: BatchProjection, d: dict) -> dict:
    f = p.followups.get(_int(d["case"]))
    if f is None:
        raise BadEvent("unknown follow-up")
    f["updated_at"] = _num(d["at"])
    p.dirty_followups.add(f["case_id"])
    return f


def _fu_opened(p: BatchProjection, day: str, d: dict) -> None:
    case = _int(d["case"])
    p.followups[case] = {
        "case_id": case, "ticket": _text(d["ticket"]), "day": _text(d["day"], 10), "business": _text(d["business"], 16),
        "window": _text(d["window"], 16), "clerk": _opt_text(d.get("clerk"), 32), "leader": _opt_text(d.get("leader"), 32),
        "level": _int(d["level"]), "reasons": _int(d.get("reasons", 0)), "comment": _text(d.get("comment", ""), 500),
        "channel": _text(d.get("channel", ""), 16), "named": bool(d.get("named")), "opened_at": _num(d["at"]),
        "deadline": _text(d["deadline"], 10), "due_at": _num(d["due_at"]), "state": "open", "attempts": 0,
        "contacted": False, "called_back_at": None, "rectified_at": None, "closed_at": None, "verdict": None,
        "updated_at": _num(d["at"])}
    dt.date.fromisoformat(p.followups[case]["day"])
    dt.date.fromisoformat(p.followups[case]["deadline"])
    p.dirty_followups.add(case)


def _fu_called_back(p: BatchProjection, day: str, d: dict) -> None:
    f = _followup(p, d)
    f["attempts"] = _int(d.get("attempt", f["attempts"] + 1))
    if d.get("contacted"):
        f["state"] = "called_back" if f["state"] == "open" else f["state"]
        f["contacted"] = True
        if f["called_back_at"] is None:
            f["called_back_at"] = _num(d.get("called_at", d["at"]))


def _fu_rectified(p: BatchProjection, day: str, d: dict) -> None:
    f = _followup(p, d)
    f["state"], f["rectified_at"] = "rectified", _num(d["at"])


def _fu_closed(p: BatchProjection, day: str, d: dict) -> None:
    f = _followup(p, d)
    f["state"], f["closed_at"], f["verdict"] = "closed", _num(d["at"]), _opt_text(d.get("verdict"), 32)


def _fu_appealed(p: BatchProjection, day: str, d: dict) -> None:
    _followup(p, d)["state"] = "appealed"


def _fu_decided(p: BatchProjection, day: str, d: dict) -> None:
    f = _followup(p, d)
    f["state"] = _text(d.get("back_to", "removed" if d.get("upheld") else f["state"]), 32)
    if d.get("upheld"):
        p._case_change(f["case_id"], lambda c: c.update(excluded=True))


def _paused(p: BatchProjection, day: str, d: dict) -> None:
    w = _text(d["window"], 16)
    state = p.windows.setdefault(w, {"window": w, "paused_at": None, "pause_day": None, "reason": None})
    if state["paused_at"] is None:
        reason = d.get("reason")
        state.update(paused_at=_num(d["at"]), pause_day=day, reason=reason[:32] if isinstance(reason, str) else "")
        p.dirty_windows.add(w)


def _unpaused(p: BatchProjection, day: str, d: dict) -> None:
    w = _text(d["window"], 16)
    state = p.windows.get(w)
    if state is None or state["paused_at"] is None:
        return
    p.window_time[(state["pause_day"], w, f"paused:{state['reason'] or ''}")] += max(0.0, _num(d["at"]) - state["paused_at"])
    state.update(paused_at=None, pause_day=None, reason=None)
    p.dirty_windows.add(w)


APPLY: dict[str, Callable[[BatchProjection, str, dict], None]] = {
    "ticket_issued": _issued,
    "ticket_called": _called,
    "ticket_skipped": _skipped,
    "service_started": _started,
    "ticket_finished": _finished,
    "ticket_transferred": _transferred,
    "case_bound": _case_bound,
    "ticket_cancelled": _cancelled,
    "rating_recorded": _rated,
    "rating_timed_out": _timed_out,
    "followup_opened": _fu_opened,
    "followup_called_back": _fu_called_back,
    "followup_rectified": _fu_rectified,
    "followup_closed": _fu_closed,
    "followup_appealed": _fu_appealed,
    "followup_appeal_decided": _fu_decided,
    "window_paused": _paused,
    "window_resumed": _unpaused,
    "window_closed": _unpaused,
}
