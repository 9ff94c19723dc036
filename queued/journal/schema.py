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
    service_s       REAL
);
CREATE INDEX IF NOT EXISTS tickets_day ON tickets(day, business);
CREATE UNIQUE INDEX IF NOT EXISTS tickets_day_number ON tickets(day, number);

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
