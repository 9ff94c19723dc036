"""Report tables of the evaluator (好差评), kept by projections in the journal's own transaction.

Registered with `queued.journal.projection.register_schema` at import time, so any daemon that
loads `evaluator.service` creates them on open. Other packages (the /admin pages, 差评 follow-up,
the public results page) read these tables; the columns below are the contract.

cases      one row per served case (办结), written at `ticket_finished`.
           case_id is the ticket's serial (`TicketFinished.case`, 办件编号 of the national export);
           `day` is the hall day of the 办结. The rating columns (state, level, defaulted, reasons,
           rated_at) mirror `ratings` so the review report scans one table.
           state: open      finished, no rating yet (the pad/QR may still rate)
                  rated     a citizen's rating (pad, qr, web, wechat)
                  unrated   timed out with no rating (unrated_default = "none"); a later QR/web
                            rating within rating_window_days still replaces it
                  defaulted timed out, level = unrated_default (系统默认评价); a later real rating
                            within the window replaces it
ratings    one row per case that got a rating or a time-out (case_id PRIMARY KEY: the database's
           own guard of 一次一评). level 1..5 (5 非常满意 … 1 非常不满意; 1–2 are 差评) or NULL for
           unrated; reasons: bit i = reason i+1 of `[hall] reasons`; channel: pad | qr | web |
           wechat | default (系统默认评价), and for an unrated time-out who gave up: pad | timer;
           defaulted 0/1 (系统默认评价); no_reason 1 for a 差评 without reason;
           `day` is the case's day (the day served), `at` when the rating was given.
           `replaced` names what a later real rating replaced ('unrated' | 'defaulted'), else NULL.
rating_refusals  one row per refused duplicate rating (a second rating of a rated case): the
           "refused and counted" of 一次一评. reason is the error code (already_rated).
"""

from queued.journal.projection import register_schema

EVALUATOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id     INTEGER PRIMARY KEY,
    ticket      TEXT NOT NULL,
    day         TEXT NOT NULL,
    number      TEXT NOT NULL,
    business    TEXT NOT NULL,
    window      TEXT NOT NULL,
    clerk       TEXT,
    finished_at REAL NOT NULL,
    wait_s      REAL,
    service_s   REAL,
    state       TEXT NOT NULL DEFAULT 'open',
    level       INTEGER,
    defaulted   INTEGER NOT NULL DEFAULT 0,
    reasons     INTEGER NOT NULL DEFAULT 0,
    rated_at    REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS cases_ticket ON cases(ticket);
-- Review report indexes: (key, level, …) so `GROUP BY key, level` streams in index order (no sort
-- of a year of rows) and reads only the index; 差评 reasons come from the small partial index.
DROP INDEX IF EXISTS cases_day_window;
DROP INDEX IF EXISTS cases_day_clerk;
DROP INDEX IF EXISTS cases_day_business;
DROP INDEX IF EXISTS cases_day;
DROP INDEX IF EXISTS cases_window;
DROP INDEX IF EXISTS cases_clerk;
DROP INDEX IF EXISTS cases_business;
CREATE INDEX IF NOT EXISTS cases_by_day ON cases(day, level, state);
CREATE INDEX IF NOT EXISTS cases_by_window ON cases(window, level, day, state);
CREATE INDEX IF NOT EXISTS cases_by_clerk ON cases(clerk, level, day, state);
CREATE INDEX IF NOT EXISTS cases_by_business ON cases(business, level, day, state);
CREATE INDEX IF NOT EXISTS cases_bad ON cases(day, window, clerk, business, reasons) WHERE level <= 2;

CREATE TABLE IF NOT EXISTS ratings (
    case_id   INTEGER PRIMARY KEY,
    ticket    TEXT NOT NULL,
    day       TEXT NOT NULL,
    at        REAL NOT NULL,
    business  TEXT NOT NULL,
    window    TEXT NOT NULL,
    clerk     TEXT,
    level     INTEGER CHECK (level IS NULL OR level BETWEEN 1 AND 5),
    reasons   INTEGER NOT NULL DEFAULT 0,
    comment   TEXT NOT NULL DEFAULT '',
    channel   TEXT NOT NULL,
    defaulted INTEGER NOT NULL DEFAULT 0,
    no_reason INTEGER NOT NULL DEFAULT 0,
    replaced  TEXT
);
CREATE INDEX IF NOT EXISTS ratings_day ON ratings(day);
CREATE INDEX IF NOT EXISTS ratings_day_window ON ratings(day, window);
CREATE INDEX IF NOT EXISTS ratings_day_clerk ON ratings(day, clerk);
CREATE INDEX IF NOT EXISTS ratings_day_business ON ratings(day, business);
CREATE INDEX IF NOT EXISTS ratings_bad ON ratings(day, level) WHERE level <= 2;

CREATE TABLE IF NOT EXISTS rating_refusals (
    id      INTEGER PRIMARY KEY,
    case_id INTEGER,
    ticket  TEXT,
    day     TEXT NOT NULL,
    at      REAL NOT NULL,
    channel TEXT NOT NULL,
    reason  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rating_refusals_day ON rating_refusals(day);

-- The queues report: the same scheme on the core's tickets, (key, status, …) and covering.
DROP INDEX IF EXISTS tickets_day_window;
DROP INDEX IF EXISTS tickets_day_clerk;
DROP INDEX IF EXISTS tickets_report_day;
DROP INDEX IF EXISTS tickets_report_window;
DROP INDEX IF EXISTS tickets_report_clerk;
DROP INDEX IF EXISTS tickets_report_business;
CREATE INDEX IF NOT EXISTS tickets_by_day ON tickets(day, status, issued_at, first_called_at, service_s);
CREATE INDEX IF NOT EXISTS tickets_by_window ON tickets(window, status, day, issued_at, first_called_at, service_s);
CREATE INDEX IF NOT EXISTS tickets_by_clerk ON tickets(clerk, status, day, issued_at, first_called_at, service_s);
CREATE INDEX IF NOT EXISTS tickets_by_business ON tickets(business, status, day, issued_at, first_called_at,
                                                          service_s);
-- p90 wait: waits in order within each key, so the k-th largest is an index walk, not a sort.
CREATE INDEX IF NOT EXISTS tickets_wait_day ON tickets(day, first_called_at - issued_at)
    WHERE first_called_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tickets_wait_window ON tickets(window, first_called_at - issued_at, day)
    WHERE first_called_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tickets_wait_clerk ON tickets(clerk, first_called_at - issued_at, day)
    WHERE first_called_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tickets_wait_business ON tickets(business, first_called_at - issued_at, day)
    WHERE first_called_at IS NOT NULL;
"""

register_schema(EVALUATOR_SCHEMA)
