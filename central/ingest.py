"""Storing a hall's batch: exactly once, in order, with the projections, in one transaction.

The hall's row is locked (`SELECT … FOR UPDATE`) for the transaction, so batches of one hall are
stored one after the other even when two instances receive them (a resend racing the original);
other halls are not held up. Events at or below the hall's `last_seq` are duplicates of what is
already stored (a resent batch) and are acknowledged without storing them again; the events
table's primary key (hall, seq, day) guards it once more. A hall whose cursor is beyond what the
store holds is told so (409 cursor_ahead with `last_seq`) and resends from there.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from central import projector, queue_rollup
from central.db import Partitions
from central.errors import BadRequest, CursorAhead, Forbidden, JournalBehind

MAX_EVENTS = 5000
MAX_DEPTH = 16  # nesting of an event's data (or the profile) below its own object
MAX_HALL_ID = 64
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \uD800…\uDFFF in the text (pairs included)
_INT_MIN, _INT_MAX = -2**63, 2**63 - 1


@dataclass(slots=True)
class Incoming:
    seq: int
    day: dt.date
    at: float
    kind: str
    data: dict[str, Any]


@dataclass(slots=True)
class Batch:
    hall: str
    after: int
    head: int
    profile: dict[str, Any] | None
    events: list[Incoming]
    raw: str  # the request body: PostgreSQL reads the events out of it (no re-encoding per event)


class Stats:
    """What this instance has stored (for /metrics)."""

    def __init__(self):
        self.batches = 0
        self.stored = 0
        self.duplicates = 0
        self.skipped = 0
        self.seconds = 0.0


def parse_batch(raw: bytes) -> Batch:
    """Check a request body. Anything off is a 422 naming the field; nothing is stored."""
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"请求体不是合法的 JSON（invalid JSON: {exc}）") from None
    except RecursionError:
        raise BadRequest(f"JSON nested too deep (at most {MAX_DEPTH} levels in an event)") from None
    if "\\u0000" in text:
        raise BadRequest("the batch holds a NUL character (\\u0000), which no text column can store")
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    surrogates = _SURROGATE_ESCAPE.search(text) is not None  # only then can a lone one be in a string
    extra = sorted(set(body) - {"hall", "after", "head", "profile", "events"})
    if extra:
        raise BadRequest(f"unknown field(s): {', '.join(extra)}")
    hall, after, head, events = body.get("hall"), body.get("after", 0), body.get("head", 0), body.get("events")
    if not isinstance(hall, str) or not 0 < len(hall) <= MAX_HALL_ID or not hall.isprintable():
        raise BadRequest(f"hall must be the hall's id (1..{MAX_HALL_ID} printable characters)")
    for name, v in (("after", after), ("head", head)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**62:
            raise BadRequest(f"{name} must be a sequence number (an integer ≥ 0)")
    profile = body.get("profile")
    if profile is not None:
        if not isinstance(profile, dict):
            raise BadRequest("profile must be an object")
        _check_value(profile, 0, "profile", surrogates)
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise BadRequest(f"events must be a list of at most {MAX_EVENTS} events")
    out: list[Incoming] = []
    prev = after
    for i, ev in enumerate(events):
        if not isinstance(ev, dict) or set(ev) != {"seq", "day", "at", "kind", "data"}:
            raise BadRequest(f"events[{i}] must have exactly seq, day, at, kind and data")
        seq, day, at, kind, data = ev["seq"], ev["day"], ev["at"], ev["kind"], ev["data"]
        if type(seq) is not int or not 0 < seq < 2**62:
            raise BadRequest(f"events[{i}].seq must be a positive integer")
        if i > 0 and seq <= prev:
            raise BadRequest(f"events[{i}].seq {seq} does not follow {prev}: events go in increasing seq")
        prev = seq
        if not isinstance(day, str) or not _DAY.match(day):
            raise BadRequest(f"events[{i}].day must be YYYY-MM-DD")
        try:
            d = dt.date.fromisoformat(day)
        except ValueError:
            raise BadRequest(f"events[{i}].day {day!r} is not a date") from None
        if not 2000 <= d.year <= 2200:
            raise BadRequest(f"events[{i}].day {day!r} is out of range")
        if type(at) not in (int, float) or not math.isfinite(at):
            raise BadRequest(f"events[{i}].at must be a number (epoch seconds)")
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise BadRequest(f"events[{i}].kind must be a snake_case name")
        if not isinstance(data, dict):
            raise BadRequest(f"events[{i}].data must be an object")
        _check_value(data, 0, f"events[{i}].data", surrogates)
        out.append(Incoming(seq, d, float(at), kind, data))
    # Events before `after` would be duplicates by definition; a batch may start anywhere above it.
    if out and out[0].seq <= after:
        raise BadRequest(f"events start at seq {out[0].seq}, not after the cursor {after}")
    if out and 0 < head < out[-1].seq:
        raise BadRequest(f"head {head} is below the batch's last seq {out[-1].seq}")
    return Batch(hall, after, head, profile, out, text)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_value(v: dict | list, depth: int, where: str, surrogates: bool) -> None:
    """What PostgreSQL's jsonb and the projections cannot take, refused here with its place: nesting
    deeper than MAX_DEPTH, numbers beyond float or bigint range, lone surrogates (half a UTF-16
    pair: no UTF-8 text can hold one; looked for only when the text has such an escape at all).
    A value costs a class check or two (~1.5 µs an event)."""
    if depth >= MAX_DEPTH:
        raise BadRequest(f"{where}: nested deeper than {MAX_DEPTH} levels")
    for k, x in (v.items() if v.__class__ is dict else enumerate(v)):
        cls = x.__class__
        if cls is dict or cls is list:
            _check_value(x, depth + 1, f"{where}.{k}", surrogates)
        elif cls is str:
            if surrogates and _lone_surrogate(x):
                raise BadRequest(f"{where}.{k} holds a lone surrogate (\\uD800–\\uDFFF): not text")
        elif cls is float:
            if not math.isfinite(x):
                raise BadRequest(f"{where}.{k}: number out of range")
        elif cls is int:
            if not _INT_MIN <= x <= _INT_MAX:
                raise BadRequest(f"{where}.{k}: integer out of range (64 bits)")
        if surrogates and _lone_surrogate(k):
            raise BadRequest(f"{where} has a key with a lone surrogate (\\uD800–\\uDFFF): not text")


def _lone_surrogate(s) -> bool:
    if not isinstance(s, str):
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


async def store(pool: asyncpg.Pool, partitions: Partitions, principal_hall: str, batch: Batch,
                stats: Stats | None = None) -> dict[str, Any]:
    if batch.hall != principal_hall:
        raise Forbidden(f"this token ships for hall {principal_hall!r}, not {batch.hall!r}")
    started = time.perf_counter()
    async with pool.acquire() as conn:
        if batch.events:
            await partitions.ensure(conn, {e.day for e in batch.events})
        async with conn.transaction():
            row = await conn.fetchrow("SELECT last_seq, profile, yellow_s, red_s FROM halls WHERE id = $1 FOR UPDATE",
                                      batch.hall)
            if row is None:
                raise Forbidden(f"hall {batch.hall!r} is not registered (queued central token create --hall ID)")
            last = row["last_seq"]
            if 0 < batch.head < last:
                # The hall's journal ends before what the store already holds from it: restored from an
                # older backup, its new events would reuse seqs already stored and be taken for resends.
                raise JournalBehind(f"hall {batch.hall}'s journal ends at seq {batch.head} but the central store "
                                    f"holds it up to seq {last}: was the hall restored from an older backup? "
                                    "See docs/central.md (a hall restored from backup)", last_seq=last)
            if batch.after > last:
                raise CursorAhead(f"the central store holds hall {batch.hall} only up to seq {last}; resend from there",
                                  last_seq=last)
            profile, lines = row["profile"], (row["yellow_s"], row["red_s"])
            if batch.profile is not None:
                profile = json.dumps(batch.profile, ensure_ascii=False)
                lines = await _save_profile(conn, batch.hall, batch.profile, profile, lines)
            fresh = [e for e in batch.events if e.seq > last]
            skipped = 0
            if fresh:
                try:
                    skipped = await _store_fresh(conn, batch.hall, batch.raw, last, fresh, lines,
                                                 json.loads(profile) if isinstance(profile, str) else profile)
                except (asyncpg.DataError, asyncpg.UntranslatableCharacterError) as exc:
                    # e.g. a lone surrogate escape PostgreSQL's jsonb refuses: the transaction is undone.
                    raise BadRequest(f"an event holds text that cannot be stored: {exc}") from None
                last = fresh[-1].seq
                await conn.execute(
                    "UPDATE halls SET last_seq = $2::bigint, last_event_at = $3, events = events + $4,"
                    " last_shipped_at = now(), head_seq = GREATEST($5::bigint, $2::bigint) WHERE id = $1", batch.hall, last, fresh[-1].at, len(fresh),
                    batch.head)
            else:
                await conn.execute("UPDATE halls SET last_shipped_at = now(), head_seq = GREATEST(head_seq, $2::bigint)"
                                   " WHERE id = $1", batch.hall, batch.head)
    if stats is not None:
        stats.batches += 1
        stats.stored += len(fresh)
        stats.duplicates += len(batch.events) - len(fresh)
        stats.skipped += skipped
        stats.seconds += time.perf_counter() - started
    return {"hall": batch.hall, "last_seq": last, "stored": len(fresh), "duplicates": len(batch.events) - len(fresh)}


async def _save_profile(conn: asyncpg.Connection, hall: str, profile: dict, text: str,
                        before: tuple[float, float]) -> tuple[float, float]:
    """Names and lines; returns the lines (yellow, red). New lines recount the waits past them in
    the hall's whole queue rollup, as the hall's own report counts with its lines now."""
    name = profile.get("name") if isinstance(profile.get("name"), str) else ""
    lines = profile.get("warn_wait_s")
    yellow, red = 1800.0, 2700.0
    if isinstance(lines, list) and len(lines) == 2 and all(isinstance(x, int | float) and not isinstance(x, bool)
                                                            for x in lines):
        yellow, red = float(lines[0]), float(lines[1])
    await conn.execute("UPDATE halls SET profile = $2::jsonb, name = CASE WHEN $3 = '' THEN name ELSE $3 END,"
                       " yellow_s = $4, red_s = $5 WHERE id = $1", hall, text, name[:100], yellow, red)
    if (yellow, red) != tuple(before):
        await conn.execute("UPDATE queue_daily SET over_yellow = called - width_bucket($2::float8, waits),"
                           " over_red = called - width_bucket($3::float8, waits) WHERE hall = $1", hall,
                           queue_rollup.just_below(yellow), queue_rollup.just_below(red))
    return yellow, red


def _day(s: str | None) -> dt.date | None:
    return None if s is None else dt.date.fromisoformat(s)


_INSERT_EVENTS = (
    "INSERT INTO events (hall, seq, day, at, kind, data)"
    " SELECT $1, (e->>'seq')::bigint, (e->>'day')::date, (e->>'at')::float8, e->>'kind', e->'data'"
    " FROM jsonb_array_elements($2::jsonb->'events') e WHERE (e->>'seq')::bigint > $3")


async def _store_fresh(conn: asyncpg.Connection, hall: str, raw: str, last: int, fresh: list[Incoming], lines,
                       profile: dict) -> int:
    status = await conn.execute(_INSERT_EVENTS, hall, raw, last)
    if int(status.split()[-1]) != len(fresh):  # cannot happen after parse_batch; never store half a batch
        raise BadRequest("the batch's events could not be read consistently")
    decoded = [{"kind": e.kind, "data": e.data} for e in fresh]
    ticket_ids, case_ids, windows = projector.needs(decoded)
    tickets = await load_tickets(conn, hall, ticket_ids)
    cases = {r["case_id"]: r for r in await _load_cases(conn, hall, sorted(case_ids), sorted(ticket_ids))}
    followups = {r["case_id"]: r for r in await _load(conn, "followups", projector.FOLLOWUP_COLUMNS, "case_id", hall,
                                                       sorted(case_ids), "bigint")}
    states = {r["window"]: r for r in await _load(conn, "window_state", projector.WINDOW_COLUMNS, "window", hall,
                                                   sorted(windows), "text")}
    proj = projector.BatchProjection(projector.Profile(profile), tickets, cases, followups, states)
    before = {tid: queue_rollup.contribution(t) for tid, t in tickets.items()}  # the projector changes them
    for e in fresh:
        proj.apply(e.kind, e.day.isoformat(), e.data)
    # A case may be finished in this batch for a ticket loaded now: the cases were loaded by the
    # ids the events name, and a finish names its case, so every case touched is in `cases`.
    await write(conn, hall, proj)
    await write_queue(conn, hall, queue_rollup.changes(before, proj.tickets, proj.dirty_tickets), lines)
    return proj.skipped


async def write_queue(conn: asyncpg.Connection, hall: str, changes: queue_rollup.Changes,
                      lines: tuple[float, float]) -> None:
    """The queue rollup's rows a batch changed, read (the hall's row lock keeps them ours), merged
    and written whole."""
    if not changes.rows:
        return
    keys = list(zip(*changes.rows, strict=True))
    rows = await conn.fetch(
        'SELECT day::text AS day, "window", clerk, business, dept, issued, done, skipped, cancelled, left_over, called,'
        ' service_sum, waits FROM queue_daily WHERE hall = $1 AND (day, "window", clerk, business, dept)'
        " IN (SELECT * FROM unnest($2::date[], $3::text[], $4::text[], $5::text[], $6::text[]))",
        hall, [_day(d) for d in keys[0]], *keys[1:])
    stored = {tuple(r[k] for k in queue_rollup.KEY): dict(r) for r in rows}
    await _upsert(conn, "queue_daily", queue_rollup.COLUMNS, hall,
                  [queue_rollup.merged(stored.get(k), k, v, lines) for k, v in sorted(changes.rows.items())])


async def _load_cases(conn: asyncpg.Connection, hall: str, case_ids: list[int], tickets: list[str]) -> list[dict]:
    """The cases the batch names, and those of its tickets (the 办件 bound to a ticket finished now)."""
    if not case_ids and not tickets:
        return []
    cols = ", ".join(f'"{c}"::text AS "{c}"' if c in _DATE_COLUMNS else f'"{c}"' for c in projector.CASE_COLUMNS)
    rows = await conn.fetch(f"SELECT {cols} FROM cases WHERE hall = $1 AND (case_id = ANY($2::bigint[])"
                            " OR ticket = ANY($3::text[]))", hall, case_ids, tickets)
    return [dict(r) for r in rows]


async def load_tickets(conn: asyncpg.Connection, hall: str, ids) -> dict[str, dict]:
    return {r["ticket"]: r for r in await _load(conn, "tickets", projector.TICKET_COLUMNS, "ticket", hall,
                                                 sorted(ids), "text")}


_DATE_COLUMNS = {"day", "pause_day", "deadline"}


async def _load(conn: asyncpg.Connection, table: str, columns: tuple[str, ...], key: str, hall: str, ids: list,
                typ: str) -> list[dict]:
    if not ids:
        return []
    cols = ", ".join(f'"{c}"::text AS "{c}"' if c in _DATE_COLUMNS else f'"{c}"' for c in columns)
    rows = await conn.fetch(f'SELECT {cols} FROM {table} WHERE hall = $1 AND "{key}" = ANY($2::{typ}[])', hall, ids)
    return [dict(r) for r in rows]


_TYPES = {
    "tickets": {"serial": "bigint", "issued_at": "float8", "first_called_at": "float8", "started_at": "float8",
                "finished_at": "float8", "wait_s": "float8", "service_s": "float8", "day": "date"},
    "cases": {"case_id": "bigint", "day": "date", "level": "smallint", "defaulted": "boolean", "reasons": "integer",
              "excluded": "boolean"},
    "followups": {"case_id": "bigint", "day": "date", "level": "smallint", "reasons": "integer", "named": "boolean",
                  "opened_at": "float8", "deadline": "date", "due_at": "float8", "attempts": "integer",
                  "contacted": "boolean", "called_back_at": "float8", "rectified_at": "float8",
                  "closed_at": "float8", "updated_at": "float8"},
    "window_state": {"paused_at": "float8", "pause_day": "date"},
    "queue_daily": {"day": "date", **dict.fromkeys(queue_rollup.COUNTS, "integer"), "wait_sum": "float8",
                    "service_sum": "float8", **dict.fromkeys((*queue_rollup.OVER, *queue_rollup.HIST), "integer"),
                    "waits": "float8[]"},
}
_KEYS = {"tickets": ("ticket",), "cases": ("case_id",), "followups": ("case_id",), "window_state": ("window",),
         "queue_daily": queue_rollup.KEY}


async def _upsert(conn: asyncpg.Connection, table: str, columns: tuple[str, ...], hall: str, rows: list[dict]) -> None:
    """Whole rows, sent as one JSON array that PostgreSQL takes apart (jsonb_to_recordset): one
    parameter to encode instead of an array per column (asyncpg checks every element of those)."""
    if not rows:
        return
    types = _TYPES[table]
    cols = ", ".join(f'"{c}"' for c in columns)
    record = ", ".join(f'"{c}" {types.get(c, "text")}' for c in columns)
    keys = _KEYS[table]
    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in keys)
    conflict = ", ".join(f'"{k}"' for k in keys)
    payload = json.dumps([{c: r[c] for c in columns} for r in rows], separators=(",", ":"))
    await conn.execute(f"INSERT INTO {table} (hall, {cols}) SELECT $1, {cols} FROM jsonb_to_recordset($2::jsonb)"
                       f" AS r({record}) ON CONFLICT (hall, {conflict}) DO UPDATE SET {sets}", hall, payload)


_REVIEW_KEY = ("day", "window", "clerk", "business", "dept")


async def write(conn: asyncpg.Connection, hall: str, proj: projector.BatchProjection) -> None:
    """Write what a projection changed: rows whole, rollups as deltas."""
    await _upsert(conn, "tickets", projector.TICKET_COLUMNS, hall,
                  [proj.tickets[t] for t in sorted(proj.dirty_tickets)])
    await _upsert(conn, "cases", projector.CASE_COLUMNS, hall, [proj.cases[c] for c in sorted(proj.dirty_cases)])
    await _upsert(conn, "followups", projector.FOLLOWUP_COLUMNS, hall,
                  [proj.followups[c] for c in sorted(proj.dirty_followups)])
    await _upsert(conn, "window_state", projector.WINDOW_COLUMNS, hall,
                  [proj.windows[w] for w in sorted(proj.dirty_windows)])
    rows = sorted(proj.review_rows())
    if rows:
        cols = list(zip(*rows, strict=True))
        await conn.execute(
            'INSERT INTO review_daily (hall, day, "window", clerk, business, dept, ' + ", ".join(projector.COUNTS) + ")"
            " SELECT $1, * FROM unnest($2::date[], $3::text[], $4::text[], $5::text[], $6::text[], "
            + ", ".join(f"${i}::int[]" for i in range(7, 7 + len(projector.COUNTS))) + ")"
            ' ON CONFLICT (hall, day, "window", clerk, business, dept) DO UPDATE SET '
            + ", ".join(f"{c} = review_daily.{c} + EXCLUDED.{c}" for c in projector.COUNTS),
            hall, [_day(d) for d in cols[0]], *cols[1:5], *cols[5:])
    rows = sorted(proj.reason_rows())
    if rows:
        cols = list(zip(*rows, strict=True))
        await conn.execute(
            'INSERT INTO review_reasons (hall, day, "window", clerk, business, dept, reason, n)'
            " SELECT $1, * FROM unnest($2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])"
            ' ON CONFLICT (hall, day, "window", clerk, business, dept, reason) DO UPDATE SET'
            " n = review_reasons.n + EXCLUDED.n", hall, [_day(d) for d in cols[0]], *cols[1:])
    items = sorted(proj.window_time.items())
    if items:
        await conn.execute(
            'INSERT INTO window_time (hall, day, "window", kind, seconds)'
            " SELECT $1, * FROM unnest($2::date[], $3::text[], $4::text[], $5::float8[])"
            ' ON CONFLICT (hall, day, "window", kind) DO UPDATE SET seconds = window_time.seconds + EXCLUDED.seconds',
            hall, [_day(k[0]) for k, _ in items], [k[1] for k, _ in items], [k[2] for k, _ in items],
            [v for _, v in items])
