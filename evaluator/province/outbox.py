"""The durable outbox (D3): rows written by projections, in the transaction that stores the rating.

Registered after the evaluator's own projections (`cases`, `ratings` first, so the row they read is
there). Which profiles a database pushes to is the table `province_profiles`, written by the
adapter at start from `[province]`: with none configured, the projections insert nothing.

province_outbox   one row per record the platform must get, per profile:
    step        rating, or service (shandong: the 办件服务 record that must be accepted first, D5)
    kind        first (the citizen's rating) | second (二次评价, D11) | default (系统默认评价)
    rating_id   the rating's UUID (D1); a service row carries its rating's
    project_no  the case's 办件编号; NULL when the case has none: never invented (D9)
    seq         assessNumber (zhejiang) / serviceNumber (shandong): 1, then 2 for a 二次评价
    key         (profile, step, project_no, seq) is unique among live rows (D1)
    state       pending | blocked_on_service | retrying | accepted | duplicate | rejected
                | unpushable (no 办件编号) | conflict (its key is another rating's) | superseded (a
                default replaced by a real rating before it was sent) | excluded (an upheld 申诉
                before delivery: never sent)
    next_at     when the sender may try it; NULL when it is not to be sent (the sender's index)
    hold_day    a default is final only when the rating window has passed (a real rating may still
                replace it): not sent before the hall day after `hold_day` (its `next_at` is that
                day's start, from `province_profiles.utc_offset`, the hall's offset from UTC)
    excluded_at an upheld 申诉 (D11): a delivered row keeps its state; nothing more is sent
    the rest    the receipt of the last attempt (D7): attempts, first/last attempt time, HTTP
                status, platform code and message, the body redacted of personal data, digest
province_attempts one row per request (the receipts' history)
province_reconciliations  the daily reconciliation per hall day × window × profile (D10)
"""

from __future__ import annotations

from evaluator import events as ev
from evaluator import followup as fu
from evaluator import followup_store as _followup_store  # noqa: F401  (the followups table the insert reads)
from evaluator import projection as _evaluator_projection  # noqa: F401  (cases and ratings first)
from evaluator.province import events as pe
from queued.journal import projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS province_profiles (
    profile     TEXT PRIMARY KEY,
    has_default INTEGER NOT NULL,
    two_step    INTEGER NOT NULL,
    hold_days   INTEGER NOT NULL,
    utc_offset  REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS province_outbox (
    id               INTEGER PRIMARY KEY,
    profile          TEXT NOT NULL,
    step             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    rating_id        TEXT NOT NULL,
    case_id          INTEGER NOT NULL,
    project_no       TEXT,
    seq              INTEGER NOT NULL,
    day              TEXT NOT NULL,
    window           TEXT NOT NULL,
    clerk            TEXT,
    business         TEXT NOT NULL,
    level            INTEGER NOT NULL,
    reasons          INTEGER NOT NULL,
    comment          TEXT NOT NULL,
    channel          TEXT NOT NULL,
    rated_at         REAL NOT NULL,
    served_at        REAL,
    created_at       REAL NOT NULL,
    hold_day         TEXT,
    state            TEXT NOT NULL,
    next_at          REAL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    fails            INTEGER NOT NULL DEFAULT 0,
    first_attempt_at REAL,
    last_attempt_at  REAL,
    delivered_at     REAL,
    maybe_delivered  INTEGER NOT NULL DEFAULT 0,
    http_status      INTEGER,
    code             TEXT,
    message          TEXT,
    body             TEXT,
    digest           TEXT,
    excluded_at      REAL,
    repushes         INTEGER NOT NULL DEFAULT 0,
    repushed_at      REAL,
    repushed_by      TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS province_outbox_key ON province_outbox(profile, step, project_no, seq)
    WHERE state NOT IN ('unpushable', 'conflict', 'superseded');
CREATE INDEX IF NOT EXISTS province_outbox_due ON province_outbox(profile, next_at) WHERE next_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS province_outbox_case ON province_outbox(case_id, profile);
CREATE INDEX IF NOT EXISTS province_outbox_rating ON province_outbox(rating_id, profile);
CREATE INDEX IF NOT EXISTS province_outbox_day ON province_outbox(day, window, profile, state);
CREATE INDEX IF NOT EXISTS province_outbox_state ON province_outbox(profile, state, rated_at);

CREATE TABLE IF NOT EXISTS province_attempts (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  REAL NOT NULL,
    at          REAL NOT NULL,
    outcome     TEXT NOT NULL,
    http_status INTEGER,
    code        TEXT,
    message     TEXT,
    digest      TEXT,
    maybe       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS province_attempts_outbox ON province_attempts(outbox_id, attempt);

CREATE TABLE IF NOT EXISTS province_reconciliations (
    day           TEXT NOT NULL,
    window        TEXT NOT NULL,
    profile       TEXT NOT NULL,
    stored        INTEGER NOT NULL,
    delivered     INTEGER NOT NULL,
    pending       INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    unpushable    INTEGER NOT NULL,
    excluded      INTEGER NOT NULL,
    missing       INTEGER NOT NULL,
    oldest_gap_at REAL,
    alert         INTEGER NOT NULL,
    at            REAL NOT NULL,
    PRIMARY KEY (day, window, profile)
);
"""
projection.register_schema(SCHEMA)

DELIVERED = ("accepted", "duplicate")
SENDABLE = ("pending", "retrying")
NOT_LIVE = ("unpushable", "conflict", "superseded")  # outside the unique key

# One row per configured profile (and, for a two-step profile, a service row before the rating),
# with the case's 办件编号 read from `cases` in this same transaction. The state is decided here:
# no number → unpushable; a key another live row holds → conflict; else blocked or pending.
_INSERT = """
INSERT INTO province_outbox (profile, step, kind, rating_id, case_id, project_no, seq, day, window, clerk,
    business, level, reasons, comment, channel, rated_at, served_at, created_at, hold_day, state, next_at)
SELECT x.profile, x.step, :kind, :rating_id, x.case_id, x.project_no, :seq, :day, :window, :clerk, :business,
       :level, :reasons, :comment, :channel, :at, x.served_at, :at, x.hold_day, x.state,
       CASE WHEN x.state != 'pending' THEN NULL WHEN x.hold_day IS NULL THEN :at
            ELSE MAX(:at, CAST(strftime('%s', x.hold_day, '+1 day') AS REAL) - x.utc_offset) END
FROM (
    SELECT s.profile, st.step, st.ord, c.case_id, s.utc_offset, NULLIF(TRIM(COALESCE(:project_no, c.project_no)), '') AS project_no,
           MIN(:at, COALESCE(:served_at, (SELECT f.rectified_at FROM followups f WHERE f.case_id = c.case_id
                                                AND :seq > 1), c.finished_at, :at)) AS served_at,
           CASE WHEN :kind = 'default' THEN date(:day, '+' || s.hold_days || ' days') END AS hold_day,
           CASE WHEN NULLIF(TRIM(COALESCE(:project_no, c.project_no)), '') IS NULL THEN 'unpushable'
                WHEN EXISTS (SELECT 1 FROM province_outbox o WHERE o.profile = s.profile AND o.step = st.step
                             AND o.project_no = TRIM(COALESCE(:project_no, c.project_no)) AND o.seq = :seq
                             AND o.state NOT IN ('unpushable', 'conflict', 'superseded')) THEN 'conflict'
                WHEN st.step = 'rating' AND s.two_step = 1 THEN 'blocked_on_service'
                ELSE 'pending' END AS state
    FROM cases c
    JOIN province_profiles s ON (:kind != 'default' OR s.has_default = 1)
    JOIN (SELECT 'service' AS step, 0 AS ord UNION ALL SELECT 'rating', 1) st
         ON (st.step = 'rating' OR s.two_step = 1)
    WHERE c.case_id = :case
) x
ORDER BY x.profile, x.ord
"""

# A real rating that replaces a 系统默认评价 the platform has not seen: the default is superseded.
_SUPERSEDE = ("UPDATE province_outbox SET state = 'superseded', next_at = NULL"
              " WHERE case_id = :case AND kind = 'default' AND attempts = 0 AND state = 'pending'")


def _row(x, kind: str, seq: int, rating_id: str, project_no, served_at=None) -> dict:
    return {"kind": kind, "rating_id": rating_id, "seq": seq, "day": x.day, "window": x.window,
            "clerk": x.clerk, "business": x.business, "level": x.level, "reasons": getattr(x, "reasons", 0),
            "comment": getattr(x, "comment", ""), "channel": getattr(x, "channel", "default"), "at": x.at,
            "served_at": served_at, "project_no": project_no, "case": x.case}


def _recorded(x: ev.RatingRecorded, day: str):
    rating_id = getattr(x, "rating_id", "") or f"rating:{x.case}"
    if x.replaced == "defaulted":
        yield _SUPERSEDE, {"case": x.case}
    yield _INSERT, _row(x, "first", 1, rating_id, getattr(x, "project_no", None))


def _second(x, day: str):
    yield _INSERT, _row(x, "second", 2, x.rating_id or f"second:{x.case}", x.project_no)


def _timed_out(x: ev.RatingTimedOut, day: str):
    if x.level is None:
        return  # unrated: nothing to push, ever (D9)
    yield _INSERT, _row(x, "default", 1, getattr(x, "rating_id", "") or f"default:{x.case}", None)


def _appeal_decided(x: fu.FollowupAppealDecided, day: str):
    """申诉成立 (D11): excluded locally; what the platform has keeps its receipt, the rest is never sent."""
    if not x.upheld:
        return
    yield (
        "UPDATE province_outbox SET excluded_at = :at,"
        " state = CASE WHEN state IN ('accepted', 'duplicate') THEN state ELSE 'excluded' END, next_at = NULL"
        " WHERE case_id = :case AND kind != 'second' AND excluded_at IS NULL",
        {"at": x.at, "case": x.case},
    )


def _attempted(x: pe.ProvinceAttempted, day: str):
    delivered = x.state in DELIVERED
    yield (
        "UPDATE province_outbox SET attempts = :attempt, fails = :fails,"
        " first_attempt_at = COALESCE(first_attempt_at, :started), last_attempt_at = :started,"
        " state = CASE WHEN state = 'excluded' AND NOT :delivered THEN state ELSE :state END,"
        " next_at = CASE WHEN state = 'excluded' THEN NULL ELSE :next_at END,"
        " delivered_at = CASE WHEN :delivered THEN COALESCE(delivered_at, :at) END,"
        " maybe_delivered = :maybe, http_status = :http_status, code = :code, message = :message, body = :body,"
        " digest = :digest WHERE id = :id",
        {"attempt": x.attempt, "fails": x.fails, "started": x.started_at, "delivered": int(delivered),
         "state": x.state, "next_at": x.next_at, "at": x.at, "maybe": int(x.maybe), "http_status": x.http_status,
         "code": x.code, "message": x.message, "body": x.body, "digest": x.digest, "id": x.outbox},
    )
    yield (
        "INSERT INTO province_attempts (outbox_id, attempt, started_at, at, outcome, http_status, code, message,"
        " digest, maybe) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (x.outbox, x.attempt, x.started_at, x.at, x.outcome, x.http_status, x.code, x.message, x.digest, int(x.maybe)),
    )
    if delivered and x.step == "service":  # D5: its rating may go now
        yield (
            "UPDATE province_outbox SET state = 'pending', next_at = :at WHERE state = 'blocked_on_service'"
            " AND step = 'rating' AND excluded_at IS NULL AND id IN (SELECT r.id FROM province_outbox s"
            " JOIN province_outbox r ON r.profile = s.profile AND r.rating_id = s.rating_id AND r.step = 'rating'"
            " WHERE s.id = :id)",
            {"at": x.at, "id": x.outbox},
        )


def _repushed(x: pe.ProvinceRepushed, day: str):
    """After a fix: the 办件编号 is read again (it may have been bound since), then each row of the
    rating that was rejected / not pushable / in conflict is scheduled again (OR IGNORE: a row whose
    key is still taken stays as it was, visibly)."""
    p = {"at": x.at, "profile": x.profile, "rating_id": x.rating_id, "by": x.by}
    yield (
        "UPDATE province_outbox SET project_no = (SELECT NULLIF(TRIM(c.project_no), '') FROM cases c"
        " WHERE c.case_id = province_outbox.case_id)"
        " WHERE profile = :profile AND rating_id = :rating_id AND state = 'unpushable'",
        p,
    )
    yield (
        "UPDATE OR IGNORE province_outbox SET"
        " state = CASE WHEN project_no IS NULL THEN 'unpushable'"
        "   WHEN step = 'rating' AND EXISTS (SELECT 1 FROM province_outbox sv WHERE sv.profile = province_outbox.profile"
        "     AND sv.rating_id = province_outbox.rating_id AND sv.step = 'service'"
        "     AND sv.state NOT IN ('accepted', 'duplicate')) THEN 'blocked_on_service'"
        "   ELSE 'pending' END,"
        " next_at = CASE WHEN project_no IS NULL THEN NULL"
        "   WHEN step = 'rating' AND EXISTS (SELECT 1 FROM province_outbox sv WHERE sv.profile = province_outbox.profile"
        "     AND sv.rating_id = province_outbox.rating_id AND sv.step = 'service'"
        "     AND sv.state NOT IN ('accepted', 'duplicate')) THEN NULL"
        "   ELSE :at END,"
        " fails = 0, repushes = repushes + 1, repushed_at = :at, repushed_by = :by"
        " WHERE profile = :profile AND rating_id = :rating_id AND excluded_at IS NULL"
        " AND state IN ('rejected', 'unpushable', 'conflict')",
        p,
    )


def _reconciled(x: pe.ProvinceReconciled, day: str):
    for w in x.windows:
        yield (
            "INSERT OR REPLACE INTO province_reconciliations (day, window, profile, stored, delivered, pending,"
            " rejected, unpushable, excluded, missing, oldest_gap_at, alert, at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (x.day, w["window"], x.profile, w["stored"], w["delivered"], w["pending"], w["rejected"],
             w["unpushable"], w["excluded"], w["missing"], w["oldest_gap_at"], int(w["alert"]), x.at),
        )


projection.register("rating_recorded", _recorded)
projection.register("second_rating_recorded", _second)
projection.register("rating_timed_out", _timed_out)
projection.register("followup_appeal_decided", _appeal_decided)
projection.register("province_attempted", _attempted)
projection.register("province_repushed", _repushed)
projection.register("province_reconciled", _reconciled)
