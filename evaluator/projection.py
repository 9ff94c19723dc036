"""How the evaluator's events (and TicketFinished) update `cases`, `ratings` and `rating_refusals`.

Registered at import time; the journal runs them in the transaction that writes the events, so the
tables never disagree with the log. The schema and the meaning of each column: evaluator/schema.py.
"""

from __future__ import annotations

from evaluator import events as ev
from evaluator import schema  # noqa: F401  (registers the tables before any daemon opens)
from queued.core import events as e
from queued.journal import projection

_UPSERT_RATING = (
    "INSERT OR REPLACE INTO ratings (case_id, ticket, day, at, business, window, clerk, level, reasons, comment,"
    " channel, defaulted, no_reason, replaced, rating_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_SET_CASE = "UPDATE cases SET state=?, level=?, defaulted=?, reasons=?, rated_at=? WHERE case_id=?"


# One row per bound 办件 (copied from the core's case_bindings, written by the case_bound events
# before this one), or the ticket's implicit case when none was bound.
_BOUND_CASES = (
    "INSERT OR IGNORE INTO cases (case_id, ticket, day, number, business, window, clerk, finished_at, wait_s,"
    " service_s, project_no, item_code, item_name, dept_code, applicant_name, applicant_id, applicant_phone,"
    " applicant_type, bound_at) SELECT b.case_id, b.ticket, ?, ?, ?, ?, ?, ?, ?, ?, b.project_no, b.item_code,"
    " b.item_name, b.dept_code, b.applicant_name, b.applicant_id, b.applicant_phone, b.applicant_type, b.bound_at"
    " FROM case_bindings b WHERE b.ticket = ?"
)
_IMPLICIT_CASE = (
    "INSERT OR IGNORE INTO cases (case_id, ticket, day, number, business, window, clerk, finished_at, wait_s,"
    " service_s) SELECT ?,?,?,?,?,?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM case_bindings WHERE ticket = ?)"
)


def _finished(x: e.TicketFinished, day: str):
    yield (_BOUND_CASES, (day, x.number, x.business, x.window, x.clerk, x.at, x.wait_s, x.service_s, x.ticket))
    yield (_IMPLICIT_CASE, (x.case, x.ticket, day, x.number, x.business, x.window, x.clerk, x.at, x.wait_s,
                            x.service_s, x.ticket))


def _recorded(x: ev.RatingRecorded, day: str):
    yield (_UPSERT_RATING, (x.case, x.ticket, x.day, x.at, x.business, x.window, x.clerk, x.level, x.reasons,
                            x.comment, x.channel, 0, int(x.no_reason), x.replaced, x.rating_id or None))
    yield (_SET_CASE, ("rated", x.level, 0, x.reasons, x.at, x.case))


def _timed_out(x: ev.RatingTimedOut, day: str):
    defaulted = x.level is not None
    # Unrated: level NULL and the channel says who gave up (pad | timer); defaulted: 系统默认评价.
    channel = "default" if defaulted else x.source
    yield (_UPSERT_RATING, (x.case, x.ticket, x.day, x.at, x.business, x.window, x.clerk, x.level, 0, "",
                            channel, int(defaulted), 0, None, x.rating_id or None))
    yield (_SET_CASE, ("defaulted" if defaulted else "unrated", x.level, int(defaulted), 0, x.at, x.case))


def _second(x: ev.SecondRatingRecorded, day: str):
    yield (
        "INSERT OR REPLACE INTO second_ratings (case_id, rating_id, ticket, day, at, business, window, clerk, level,"
        " reasons, comment, channel, project_no) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (x.case, x.rating_id, x.ticket, x.day, x.at, x.business, x.window, x.clerk, x.level, x.reasons, x.comment,
         x.channel, x.project_no),
    )


def _refused(x: ev.RatingRefused, day: str):
    yield (
        "INSERT INTO rating_refusals (case_id, ticket, day, at, channel, reason) VALUES (?,?,?,?,?,?)",
        (x.case, x.ticket, day, x.at, x.channel, x.reason),
    )


projection.register("ticket_finished", _finished)  # after the core's tickets row
projection.register("rating_recorded", _recorded)
projection.register("rating_timed_out", _timed_out)
projection.register("rating_refused", _refused)
projection.register("second_rating_recorded", _second)
