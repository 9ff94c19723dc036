"""SQLite schema: the append-only event log plus projections the reports read.

The log is the truth (replay reads it); projections are kept in the same transaction as the events
they come from, so they never disagree with it after a crash.
"""

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq  INTEGER PRIMARY KEY,
    day  TEXT NOT NULL,
    at   REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_day ON events(day, seq);

CREATE TABLE IF NOT EXISTS tickets (
    id              TEXT PRIMARY KEY,
    serial          INTEGER NOT NULL UNIQUE,
    day             TEXT NOT NULL,
    number          TEXT NOT NULL,
    business        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    priority        TEXT NOT NULL,
    openid          TEXT,
    appointment     TEXT,
    issued_at       REAL NOT NULL,
    first_called_at REAL,
    called_at       REAL,
    started_at      REAL,
    finished_at     REAL,
    window          TEXT,
    clerk           TEXT,
    status          TEXT NOT NULL,
    recalls         INTEGER NOT NULL DEFAULT 0,
    transfers       INTEGER NOT NULL DEFAULT 0,
    cancel_reason   TEXT,
    wait_s          REAL,
    service_s       REAL,
    rating_key      TEXT,
    outcome         TEXT,
    note            TEXT,
    extended_s      REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tickets_day ON tickets(day, business);
CREATE UNIQUE INDEX IF NOT EXISTS tickets_day_number ON tickets(day, number);

-- 办件 bound to tickets (CaseBound), kept from binding on; the evaluator copies each into its
-- `cases` table when the ticket is finished. case_id comes from the serial counter (never a
-- ticket's serial). The applicant's columns serve the 差评 call-back and the provincial push only.
CREATE TABLE IF NOT EXISTS case_bindings (
    case_id         INTEGER PRIMARY KEY,
    ticket          TEXT NOT NULL,
    day             TEXT NOT NULL,
    window          TEXT NOT NULL,
    project_no      TEXT NOT NULL UNIQUE,
    item_code       TEXT NOT NULL DEFAULT '',
    item_name       TEXT NOT NULL DEFAULT '',
    dept_code       TEXT NOT NULL DEFAULT '',
    applicant_name  TEXT NOT NULL DEFAULT '',
    applicant_id    TEXT NOT NULL DEFAULT '',
    applicant_phone TEXT NOT NULL DEFAULT '',
    applicant_type  TEXT NOT NULL DEFAULT '1',
    bound_at        REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS case_bindings_ticket ON case_bindings(ticket, case_id);

-- Window time per hall day, for saturation (busy ÷ open): open_s sums the spans closed so far,
-- open_since is the start of the span still open, last_at the window's last case event (a span
-- never closed ends there). Pauses per (day, window, clerk, reason); clerk '' = nobody signed in.
CREATE TABLE IF NOT EXISTS window_days (
    day        TEXT NOT NULL,
    window     TEXT NOT NULL,
    open_s     REAL NOT NULL DEFAULT 0,
    open_since REAL,
    last_at    REAL NOT NULL,
    PRIMARY KEY (day, window)
);
CREATE TABLE IF NOT EXISTS window_pauses (
    day      TEXT NOT NULL,
    window   TEXT NOT NULL,
    clerk    TEXT NOT NULL,
    reason   TEXT NOT NULL,
    paused_s REAL NOT NULL,
    PRIMARY KEY (day, window, clerk, reason)
);

CREATE TABLE IF NOT EXISTS tokens (
    hash       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    window     TEXT,
    clerk      TEXT,
    label      TEXT,
    created_at REAL NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
"""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: a commit survives a power cut, not only a killed process; acknowledged means durable.
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=OFF",
)
