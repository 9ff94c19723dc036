"""差评 follow-up tables: projections of the follow-up events, and the queries /admin and the
reports read. Registered at import time, before the daemon opens the journal.

followups          one row per 差评 (case_id = the rated case), its current state and deadline.
followup_actions   every action on an item (call-backs with what was said, rectification, verdict,
                   appeal and its decision): the history shown on the item's page.
rating_exclusions  ratings removed from the good/bad rates by an upheld appeal (申诉成立). The
                   rating itself stays in `ratings`; review reports leave these cases out with
                   `case_id NOT IN (SELECT case_id FROM rating_exclusions)`.
"""

from __future__ import annotations

import json
from typing import Any

from evaluator import followup as f
from queued.journal.projection import register, register_schema

FOLLOWUP_SCHEMA = """
CREATE TABLE IF NOT EXISTS followups (
    case_id        INTEGER PRIMARY KEY,
    ticket         TEXT NOT NULL,
    day            TEXT NOT NULL,
    business       TEXT NOT NULL,
    window         TEXT NOT NULL,
    clerk          TEXT,
    leader         TEXT,
    level          INTEGER NOT NULL,
    reasons        INTEGER NOT NULL,
    comment        TEXT NOT NULL,
    channel        TEXT NOT NULL,
    named          INTEGER NOT NULL,
    opened_at      REAL NOT NULL,
    deadline       TEXT NOT NULL,
    due_at         REAL NOT NULL,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    contacted      INTEGER NOT NULL DEFAULT 0,
    called_back_at REAL,
    rectified_at   REAL,
    rect_mode      TEXT,
    plan_date      TEXT,
    closed_at      REAL,
    verdict        TEXT,
    appealed_at    REAL,
    appeal_reason  TEXT,
    appeal_from    TEXT,
    decided_at     REAL,
    upheld         INTEGER,
    updated_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS followups_day ON followups(day, window);
CREATE INDEX IF NOT EXISTS followups_state ON followups(state, due_at);

CREATE TABLE IF NOT EXISTS followup_actions (
    id      INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL,
    at      REAL NOT NULL,
    action  TEXT NOT NULL,
    by      TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS followup_actions_case ON followup_actions(case_id, id);

CREATE TABLE IF NOT EXISTS rating_exclusions (
    case_id INTEGER PRIMARY KEY,
    at      REAL NOT NULL,
    reason  TEXT NOT NULL,
    by      TEXT NOT NULL
);
"""
register_schema(FOLLOWUP_SCHEMA)

_ACTION = "INSERT INTO followup_actions (case_id, at, action, by, detail) VALUES (?,?,?,?,?)"


def _detail(**kw: Any) -> str:
    return json.dumps(kw, ensure_ascii=False, separators=(",", ":"))


def _opened(ev: f.FollowupOpened, day: str):
    yield (
        "INSERT OR REPLACE INTO followups (case_id, ticket, day, business, window, clerk, leader, level, reasons,"
        " comment, channel, named, opened_at, deadline, due_at, state, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'open',?)",
        (ev.case, ev.ticket, ev.day, ev.business, ev.window, ev.clerk, ev.leader, ev.level, ev.reasons,
         ev.comment, ev.channel, int(ev.named), ev.at, ev.deadline, ev.due_at, ev.at),
    )
    yield _ACTION, (ev.case, ev.at, "opened", "系统", _detail(deadline=ev.deadline, leader=ev.leader))


def _called_back(ev: f.FollowupCalledBack, day: str):
    if ev.contacted:
        yield (
            "UPDATE followups SET state=CASE WHEN state='open' THEN 'called_back' ELSE state END, attempts=?,"
            " contacted=1, called_back_at=COALESCE(called_back_at, ?), updated_at=? WHERE case_id=?",
            (ev.attempt, ev.called_at, ev.at, ev.case),
        )
    else:
        yield "UPDATE followups SET attempts=?, updated_at=? WHERE case_id=?", (ev.attempt, ev.at, ev.case)
    yield _ACTION, (ev.case, ev.at, "callback", ev.by,
                    _detail(contacted=ev.contacted, note=ev.note, called_at=ev.called_at))


def _rectified(ev: f.FollowupRectified, day: str):
    yield (
        "UPDATE followups SET state='rectified', rectified_at=?, rect_mode=?, plan_date=?, updated_at=?"
        " WHERE case_id=?",
        (ev.at, ev.mode, ev.plan_date, ev.at, ev.case),
    )
    yield _ACTION, (ev.case, ev.at, "rectify", ev.by, _detail(mode=ev.mode, note=ev.note, plan_date=ev.plan_date))


def _closed(ev: f.FollowupClosed, day: str):
    yield ("UPDATE followups SET state='closed', closed_at=?, verdict=?, updated_at=? WHERE case_id=?",
           (ev.at, ev.verdict, ev.at, ev.case))
    yield _ACTION, (ev.case, ev.at, "verdict", ev.by, _detail(verdict=ev.verdict, note=ev.note))


def _appealed(ev: f.FollowupAppealed, day: str):
    yield ("UPDATE followups SET state='appealed', appealed_at=?, appeal_reason=?, appeal_from=?, updated_at=?"
           " WHERE case_id=?", (ev.at, ev.reason, ev.previous, ev.at, ev.case))
    yield _ACTION, (ev.case, ev.at, "appeal", ev.by, _detail(reason=ev.reason))


def _decided(ev: f.FollowupAppealDecided, day: str):
    yield ("UPDATE followups SET state=?, decided_at=?, upheld=?, updated_at=? WHERE case_id=?",
           (ev.back_to, ev.at, int(ev.upheld), ev.at, ev.case))
    if ev.upheld:
        yield ("INSERT OR REPLACE INTO rating_exclusions (case_id, at, reason, by) VALUES (?,?,?,?)",
               (ev.case, ev.at, ev.note or "申诉成立", ev.by))
    yield _ACTION, (ev.case, ev.at, "decide_appeal", ev.by, _detail(upheld=ev.upheld, note=ev.note))


for _kind, _fn in (
    ("followup_opened", _opened),
    ("followup_called_back", _called_back),
    ("followup_rectified", _rectified),
    ("followup_closed", _closed),
    ("followup_appealed", _appealed),
    ("followup_appeal_decided", _decided),
):
    register(_kind, _fn)


# ---- queries ------------------------------------------------------------------------------------

# An item is overdue while unfinished (and not under appeal) past its due time.
OVERDUE_SQL = "(state NOT IN ('closed', 'removed', 'appealed') AND due_at <= :now)"


async def list_items(journal, now: float, state: str | None = None, overdue: bool | None = None,
                     window: str | None = None, day_from: str | None = None, day_to: str | None = None,
                     limit: int = 500) -> list[dict]:
    where, params = ["1=1"], {"now": now, "limit": limit}
    if state:
        where.append("state = :state")
        params["state"] = state
    if window:
        where.append("window = :window")
        params["window"] = window
    if day_from:
        where.append("day >= :day_from")
        params["day_from"] = day_from
    if day_to:
        where.append("day <= :day_to")
        params["day_to"] = day_to
    if overdue is not None:
        where.append(OVERDUE_SQL if overdue else f"NOT {OVERDUE_SQL}")
    rows = await journal.fetchall(
        f"SELECT *, {OVERDUE_SQL} AS overdue FROM followups WHERE {' AND '.join(where)}"
        " ORDER BY overdue DESC, due_at, case_id LIMIT :limit", params)
    return [dict(r) for r in rows]


async def get_item(journal, case: int, now: float) -> dict | None:
    row = await journal.fetchone(f"SELECT *, {OVERDUE_SQL} AS overdue FROM followups WHERE case_id=:case",
                                 {"case": case, "now": now})
    if row is None:
        return None
    out = dict(row)
    actions = await journal.fetchall(
        "SELECT at, action, by, detail FROM followup_actions WHERE case_id=? ORDER BY id", (case,))
    out["history"] = [{"at": a["at"], "action": a["action"], "by": a["by"], **json.loads(a["detail"])}
                      for a in actions]
    return out


GROUPS = {"window": "window", "leader": "COALESCE(leader, '')", "business": "business", "day": "day",
          "month": "substr(day, 1, 7)", "all": "'all'",
          "month_window": "substr(day, 1, 7) || '|' || window"}  # /results: "YYYY-MM|window"


async def rates(journal, day_from: str, day_to: str, group_by: str, now: float) -> list[dict]:
    """Call-back and rectification rates of the 差评 of cases served in [from, to].

    Items removed by an upheld appeal are counted (`removed`) but left out of every rate.
    callback_rate = called back (the citizen reached) / items; named_callback_rate is the same for
    实名差评 (must be 100%); rectification_rate = rectified or closed / items;
    satisfaction_rate = verdicts 满意 / verdicts given.
    """
    key = GROUPS[group_by]
    live = "state != 'removed'"
    rows = await journal.fetchall(
        f"""SELECT {key} AS key,
               COUNT(*) AS items,
               SUM(state = 'removed') AS removed,
               SUM({live} AND contacted = 1) AS called_back,
               SUM({live} AND attempts > 0) AS attempted,
               SUM({live} AND named = 1) AS named,
               SUM({live} AND named = 1 AND contacted = 1) AS named_called_back,
               SUM({live} AND rectified_at IS NOT NULL) AS rectified,
               SUM(state = 'closed') AS closed,
               SUM(verdict = 'satisfied') AS satisfied,
               SUM(verdict IN ('satisfied', 'dissatisfied')) AS judged,
               SUM(state = 'appealed') AS appealing,
               SUM({OVERDUE_SQL}) AS overdue
           FROM followups WHERE day BETWEEN :from AND :to GROUP BY key ORDER BY key""",
        {"from": day_from, "to": day_to, "now": now})
    out = []
    for r in rows:
        d = {k: (r[k] or 0) if k != "key" else r[k] for k in r.keys()}
        counted = d["items"] - d["removed"]
        d["callback_rate"] = _rate(d["called_back"], counted)
        d["named_callback_rate"] = _rate(d["named_called_back"], d["named"])
        d["rectification_rate"] = _rate(d["rectified"], counted)
        d["satisfaction_rate"] = _rate(d["satisfied"], d["judged"])
        out.append(d)
    return out


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None
