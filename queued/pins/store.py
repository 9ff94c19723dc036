"""Where the PIN hashes live: the `clerk_pins` table, written by `queued clerk set-pin` (plain
sqlite3, beside a running daemon as `queued token create` is) and read by the daemon at each PIN
sign-in, so a new PIN works at once without a restart. A PIN set here overrides the config's."""

from __future__ import annotations

import sqlite3
import time

from queued.files import create_private
from queued.journal import projection
from queued.journal.schema import PRAGMAS
from queued.pins.errors import BadPin
from queued.pins.hashing import PIN_RULE_TEXT, hash_pin, valid_pin

SCHEMA = """
CREATE TABLE IF NOT EXISTS clerk_pins (
    clerk  TEXT PRIMARY KEY,
    hash   TEXT NOT NULL,
    set_at REAL NOT NULL
);
"""
projection.register_schema(SCHEMA)


def set_pin(database: str, clerk: str, pin: str) -> None:
    """Store a salted hash of `pin` for `clerk` (the caller checks the clerk is configured)."""
    if not valid_pin(pin):
        raise BadPin(f"a PIN is {PIN_RULE_TEXT}")
    stored = hash_pin(pin)
    create_private(database)
    conn = sqlite3.connect(database, timeout=10)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.executescript(SCHEMA)
        with conn:
            conn.execute("INSERT INTO clerk_pins (clerk, hash, set_at) VALUES (?,?,?)"
                         " ON CONFLICT(clerk) DO UPDATE SET hash=excluded.hash, set_at=excluded.set_at",
                         (clerk, stored, time.time()))
    finally:
        conn.close()


async def stored_hash(journal, clerk: str) -> str | None:
    row = await journal.fetchone("SELECT hash FROM clerk_pins WHERE clerk=?", (clerk,))
    return row["hash"] if row is not None else None
