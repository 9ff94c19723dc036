"""Report tables of the evaluator (好差评), kept by projections in the journal's own transaction.

Registered with `queued.journal.projection.register_schema` at import time, so any daemon that
loads `evaluator.service` creates them on open. Other packages (the /admin pages, 差评 follow-up,
the public results page) read these tables; the columns below are the contract.

cases      one row per served 办件 (一事一评), written at `ticket_finished`. A ticket with no bound
           办件 has one implicit case: case_id = the ticket's serial (`TicketFinished.case`),
           project_no NULL. A ticket with bound 办件 (`case_bound`, the core's `case_bindings`) has
           one row per 办件 instead: case_id from the hall's serial counter (never a ticket serial),
           project_no (办件编号, unique), item_code, item_name, dept_code (empty: the business's
           `dept_code`), applicant_name, applicant_id (the full ID number: for the call-back and the
           provincial push only, masked everywhere else: first 3 and last 4 kept), applicant_phone,
           applicant_type (userProp, '1' 个人), bound_at. `day` is the hall day of the 办结.
           The rating columns (state, level, defaulted, reasons, rated_at) mirror `ratings` so the
           review report scans one table.
           state: open      finished, no rating yet (the pad/QR may still rate)
                  rated     a citizen's rating (pad, qr, web, wechat)
                  unrated   timed out with no rating (unrated_default = "none"); a later QR/web
                            rating within rating_window_days still replaces it
                  defaulted timed out, level = unrated_default (系统默认评价); a later real rating
                            within the window replaces it
ratings    one row per case that got a rating or a time-out (case_id PRIMARY KEY: the database's
           own guard of 一次一评); rating_id: the UUID of the rating (RatingRecorded.rating_id, made
           by the adapter), stable across resends to a province. level 1..5 (5 非常满意 … 1 非常不满意; 1–2 are 差评) or NULL for
           unrated; reasons: bit i = reason i+1 of `[hall] reasons`; channel: pad | qr | web |
           wechat | default (系统默认评价), and for an unrated time-out who gave up: pad | timer;
           defaulted 0/1 (系统默认评价); no_reason 1 for a 差评 without reason;
           `day` is the case's day (the day served), `at` when the rating was given.
           `replaced` names what a later real rating replaced ('unrated' | 'defaulted'), else NULL.
second_ratings  the citizen's judgement of a rectification (二次评价, `second_rating_recorded`):
           one row per case, same columns as a rating; pushed to a province as assessNumber=2.
rating_refusals  one row per refused duplicate rating (a second rating of a rated case): the
           "refused and counted" of 一次一评. reason is the error code (already_rated).
"""

from queued.journal.projection import register_migration, register_schema

# Columns added to `cases` and `ratings` by 一事一评 (issue 11), for databases made before it.
CASE_COLUMNS = (
    ("project_no", "TEXT"), ("item_code", "TEXT"), ("item_name", "TEXT"), ("dept_code", "TEXT"),
    ("applicant_name", "TEXT"), ("applicant_id", "TEXT"), ("applicant_phone", "TEXT"),
    ("applicant_type", "TEXT NOT NULL DEFAULT '1'"), ("bound_at", "REAL"),
)
RATING_COLUMNS = (("rating_id", "TEXT"),)

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
    rated_at    REAL,
    project_no      TEXT,
    item_code       TEXT,
    item_name       TEXT,
    dept_code       TEXT,
    applicant_name  TEXT,
    applicant_id    TEXT,
    applicant_phone TEXT,
    applicant_type  TEXT NOT NULL DEFAULT '1',
    bound_at        REAL
);
-- A ticket has one case per bound 办件 now: the ticket index is no longer unique.
DROP INDEX IF EXISTS cases_ticket;
CREATE INDEX IF NOT EXISTS cases_by_ticket ON cases(ticket, case_id);
CREATE UNIQUE INDEX IF NOT EXISTS cases_project_no ON cases(project_no) WHERE project_no IS NOT NULL;
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
CREATE INDEX IF NOT EXISTS cases_by_dept ON cases(dept_code, business, level, day, state);
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
    replaced  TEXT,
    rating_id TEXT
);
CREATE INDEX IF NOT EXISTS ratings_day ON ratings(day);
CREATE INDEX IF NOT EXISTS ratings_day_window ON ratings(day, window);
CREATE INDEX IF NOT EXISTS ratings_day_clerk ON ratings(day, clerk);
CREATE INDEX IF NOT EXISTS ratings_day_business ON ratings(day, business);
CREATE INDEX IF NOT EXISTS ratings_bad ON ratings(day, level) WHERE level <= 2;

CREATE TABLE IF NOT EXISTS second_ratings (
    case_id    INTEGER PRIMARY KEY,
    rating_id  TEXT NOT NULL,
    ticket     TEXT NOT NULL,
    day        TEXT NOT NULL,
    at         REAL NOT NULL,
    business   TEXT NOT NULL,
    window     TEXT NOT NULL,
    clerk      TEXT,
    level      INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    reasons    INTEGER NOT NULL DEFAULT 0,
    comment    TEXT NOT NULL DEFAULT '',
    channel    TEXT NOT NULL,
    project_no TEXT
);
CREATE INDEX IF NOT EXISTS second_ratings_day ON second_ratings(day, window);

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



def _add_columns(conn, table: str, columns) -> None:
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    if not have:
        return  # a new database: the schema creates the table whole
    for name, decl in columns:
        if name not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")


def migrate(conn) -> None:
    _add_columns(conn, "cases", CASE_COLUMNS)
    _add_columns(conn, "ratings", RATING_COLUMNS)


register_migration(migrate)
register_schema(EVALUATOR_SCHEMA)
