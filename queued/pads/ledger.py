"""Which pad events the daemon has processed: the journal's half of exactly-once.

A `PadEventProcessed` is committed in the same transaction as the effect of the pad event (the
call, the rating, or nothing when the command was refused), so a crash can never separate them.
The `pad_acks` projection keeps the last EVT per (port, address); on start the adapter hands it to
the poller as `initial_acks`, so the first POLL acknowledges an event whose effect is already
durable and a resend of it is recognised as a retry instead of being counted again.
"""

from __future__ import annotations

from queued.core.events import Event, event
from queued.journal import projection

SCHEMA = """
CREATE TABLE IF NOT EXISTS pad_acks (
    port    TEXT NOT NULL,
    address INTEGER NOT NULL,
    evt     INTEGER NOT NULL,
    at      REAL NOT NULL,
    PRIMARY KEY (port, address)
);
"""


@event("pad_event_processed")
class PadEventProcessed(Event):
    at: float
    port: str  # the bus as configured (a remote bus: its configured name)
    address: int
    evt: int
    type: str  # key | rating | rate_timeout
    outcome: str = "ok"  # ok, or the code of the refusal (invalid_state, already_rated, ...)


def _processed(x: PadEventProcessed, day: str):
    yield ("INSERT OR REPLACE INTO pad_acks (port, address, evt, at) VALUES (?,?,?,?)",
           (x.port, x.address, x.evt, x.at))


projection.register_schema(SCHEMA)
projection.register("pad_event_processed", _processed)


async def load_acks(journal) -> dict[tuple[str, int], int]:
    """The last EVT processed per (port, address), from the projection."""
    rows = await journal.fetchall("SELECT port, address, evt FROM pad_acks")
    return {(r["port"], int(r["address"])): int(r["evt"]) for r in rows}
