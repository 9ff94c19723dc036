"""Tables of the 二次评价 link and its delivery; registered at import time.

rechecks            one row per link (case_id = the 差评's case): the token, how it was first sent,
                    when it expires, and the answer's time and level once the citizen judged.
recheck_deliveries  the link's delivery (a durable outbox, written in the transaction of the link):
    state     pending | retrying | sent | failed (gave up, or a permanent refusal: shown on the
              follow-up page with the provider's code and message, and a 重新发送 button)
    via       sms | wechat: the way being tried (a WeChat refusal 43101 falls back to SMS when a
              phone is known)
    next_at   when the sender may try again (NULL when nothing is to be sent)
    the rest  the last attempt's receipt: attempts, time, provider code and message (personal data
              redacted), the provider's id of a sent message (Aliyun BizId)
The delivery's progress is written by the sender outside the event log (like `wechat_notices`):
it is not the hall's state, and a retry after a restart only repeats an SMS the provider may have
taken, never a rating.
"""

from __future__ import annotations

from evaluator import projection as _evaluator_projection  # noqa: F401  (second_ratings first)
from evaluator import recheck as r
from queued.journal import projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS rechecks (
    case_id     INTEGER PRIMARY KEY,
    token       TEXT NOT NULL UNIQUE,
    channel     TEXT NOT NULL,
    issued_at   REAL NOT NULL,
    expires_at  REAL NOT NULL,
    ticket      TEXT NOT NULL,
    day         TEXT NOT NULL,
    business    TEXT NOT NULL,
    window      TEXT NOT NULL,
    clerk       TEXT,
    project_no  TEXT,
    answered_at REAL,
    level       INTEGER
);
CREATE TABLE IF NOT EXISTS recheck_deliveries (
    case_id   INTEGER PRIMARY KEY,
    state     TEXT NOT NULL,
    via       TEXT NOT NULL,
    next_at   REAL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    last_at   REAL,
    sent_at   REAL,
    code      TEXT,
    message   TEXT,
    biz_id    TEXT
);
CREATE INDEX IF NOT EXISTS recheck_deliveries_due ON recheck_deliveries(next_at) WHERE next_at IS NOT NULL;
"""
projection.register_schema(SCHEMA)


def _issued(x: r.RecheckIssued, day: str):
    yield ("INSERT OR IGNORE INTO rechecks (case_id, token, channel, issued_at, expires_at, ticket, day, business,"
           " window, clerk, project_no) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
           (x.case, x.token, x.channel, x.at, x.expires_at, x.ticket, x.day, x.business, x.window, x.clerk,
            x.project_no))
    yield ("INSERT OR IGNORE INTO recheck_deliveries (case_id, state, via, next_at) VALUES (?, 'pending', ?, ?)",
           (x.case, x.channel, x.at))


def _answered(x, day: str):
    yield "UPDATE rechecks SET answered_at = ?, level = ? WHERE case_id = ?", (x.at, x.level, x.case)
    # Answered: a retry still queued would only send a link that has done its work.
    yield ("UPDATE recheck_deliveries SET next_at = NULL, state = CASE WHEN state IN ('pending', 'retrying')"
           " THEN 'sent' ELSE state END WHERE case_id = ?", (x.case,))


projection.register("recheck_issued", _issued)
projection.register("second_rating_recorded", _answered)


async def get(journal, case: int) -> dict | None:
    row = await journal.fetchone(
        "SELECT k.case_id, k.token, k.channel, k.issued_at, k.expires_at, k.answered_at, k.level, d.state, d.via,"
        " d.next_at, d.attempts, d.last_at, d.sent_at, d.code, d.message FROM rechecks k"
        " LEFT JOIN recheck_deliveries d ON d.case_id = k.case_id WHERE k.case_id = ?", (case,))
    return dict(row) if row is not None else None


async def states(journal, cases: list[int]) -> dict[int, str]:
    """case → the delivery's state, for the list page."""
    out: dict[int, str] = {}
    for i in range(0, len(cases), 500):
        chunk = cases[i:i + 500]
        rows = await journal.fetchall(
            f"SELECT k.case_id, k.answered_at, d.state FROM rechecks k LEFT JOIN recheck_deliveries d"
            f" ON d.case_id = k.case_id WHERE k.case_id IN ({','.join('?' * len(chunk))})", chunk)
        out.update({x["case_id"]: "answered" if x["answered_at"] else (x["state"] or "pending") for x in rows})
    return out
