"""The queue report's rollup (queue_daily) against the tickets themselves, through the real ingest
path and PostgreSQL: tickets that change window, business and status across batches (re-called
elsewhere, transferred, skipped, cancelled at closing), waits exactly on the histogram's edges and
on the hall's lines; the city report equals a brute-force count over every ticket for each
grouping, range and filter; the migration's rebuild from the tickets equals what ingest kept; new
lines in a hall's profile recount the waits past them."""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from pathlib import Path

from central import queue_rollup, reports
from tests.central.test_ingest import JSON, make_token

DAYS = ("2026-11-02", "2026-11-03", "2026-11-04")
# Waits on the edges of the histogram's bins and on the lines (1800, 2700), and just off them.
EXACT_WAITS = [0.0, 119.0, 120.0, 121.0, 1799.0, 1800.0, 2700.0, 2699.5, 3600.0, 86400.0, 100000.0]


def hall_events(hall_no: int, rng: random.Random) -> list[tuple[str, str, dict]]:
    """(day, kind, data) in time order: tickets that take every path the projector knows."""
    out = []
    for d, day in enumerate(DAYS):
        t0 = 1_762_000_000.0 + d * 86400 + hall_no * 7
        evs = []
        for i in range(70):
            tid = f"h{hall_no}-{day}-{i}"
            issued = t0 + i * 37 + rng.choice((0.0, 0.25, rng.random()))
            business = "AB"[i % 2]
            dept = {"dept_code": "330100-01"} if i % 5 == 0 else {}
            evs.append((issued, "ticket_issued", {"at": issued, "ticket": tid, "serial": i, "number": f"{business}{i}",
                                                  "business": business, "channel": "kiosk", "priority": "normal", **dept}))
            path = rng.choice(("done", "done", "done", "skip", "recall", "transfer", "closed", "cancel_after_call"))
            if path == "closed":
                evs.append((issued + 30000, "ticket_cancelled", {"at": issued + 30000, "ticket": tid,
                                                                 "reason": "day_closed"}))
                continue
            wait = rng.choice(EXACT_WAITS) if rng.random() < 0.4 else rng.expovariate(1 / 900)
            called = issued + wait
            window = str(rng.randint(1, 4))
            clerk = None if rng.random() < 0.1 else f"c{window}"
            evs.append((called, "ticket_called", {"at": called, "ticket": tid, "window": window, "clerk": clerk}))
            at = called + 5
            if path == "skip":
                evs.append((at, "ticket_skipped", {"at": at, "ticket": tid, "window": window}))
                continue
            if path == "cancel_after_call":
                evs.append((at, "ticket_cancelled", {"at": at, "ticket": tid, "reason": "left"}))
                continue
            if path in ("recall", "transfer"):
                if path == "transfer":
                    business = "C"
                    evs.append((at, "ticket_transferred", {"at": at, "ticket": tid, "to_business": "C"}))
                at += 60
                window = str(int(window) % 4 + 1)
                evs.append((at, "ticket_called", {"at": at, "ticket": tid, "window": window, "clerk": f"c{window}"}))
            service = rng.choice((60.0, 300.5)) + rng.random() * 100
            fin = at + 10 + service
            evs.append((fin, "ticket_finished", {"at": fin, "ticket": tid, "window": window, "clerk": f"c{window}",
                                                 "case": hall_no * 100_000 + d * 1000 + i, "business": business,
                                                 "started_at": at + 10, "wait_s": wait, "service_s": service}))
        evs.sort(key=lambda e: e[0])
        out += [(day, kind, data) for _, kind, data in evs]
    return out


def profile(hall_no: int, lines=(1800.0, 2700.0)) -> dict:
    return {"name": f"第{hall_no}大厅", "warn_wait_s": list(lines), "windows": {}, "businesses": {}, "clerks": {}}


async def ship(client, headers, hall: str, events, seq0: int = 0, size: int = 7, prof=None) -> int:
    seq, head = seq0, seq0 + len(events)
    for i in range(0, len(events), size):
        chunk = []
        for day, kind, data in events[i:i + size]:
            seq += 1
            chunk.append({"seq": seq, "day": day, "at": data["at"], "kind": kind, "data": data})
        body = {"hall": hall, "after": seq - len(chunk), "head": head, "events": chunk}
        if i == 0 and prof is not None:
            body["profile"] = prof
        r = await client.post("/api/v1/ingest", content=json.dumps(body).encode(), headers=headers)
        assert r.status_code == 200, r.text
    return seq


def p90(waits: list[float]) -> float | None:
    if not waits:
        return None
    waits = sorted(waits)
    return waits[math.ceil(0.9 * len(waits)) - 1]


async def brute_force(pool, start: str, end: str, group_by: str, hall=None, dept=None) -> dict:
    """Every ticket in range, grouped in Python as the hall's report groups them."""
    lines = {r["id"]: (r["yellow_s"], r["red_s"]) for r in await pool.fetch("SELECT id, yellow_s, red_s FROM halls")}
    tickets = await pool.fetch("SELECT * FROM tickets WHERE day BETWEEN $1::text::date AND $2::text::date", start, end)
    groups: dict[tuple, list] = defaultdict(list)
    for t in tickets:
        if hall is not None and t["hall"] != hall or dept is not None and t["dept"] != dept:
            continue
        key = {"day": (None, str(t["day"])), "hall": (t["hall"], t["hall"]), "dept": (hall, t["dept"])}.get(
            group_by) or (t["hall"], t[group_by])
        groups[key].append(t)
    out = {}
    for (h, key), ts in groups.items():
        waits = [t["first_called_at"] - t["issued_at"] for t in ts if t["first_called_at"] is not None]
        done = [t for t in ts if t["status"] == "done"]
        skipped = sum(t["status"] == "skipped" for t in ts)
        yellow = red = 0
        for t in ts:
            if t["first_called_at"] is not None:
                w = t["first_called_at"] - t["issued_at"]
                yellow += w >= lines[t["hall"]][0]
                red += w >= lines[t["hall"]][1]
        out[(h, key)] = {
            "issued": len(ts), "served": len(done), "skipped": skipped,
            "cancelled": sum(t["status"] == "cancelled" for t in ts),
            "left_over": sum(t["status"] == "cancelled" and t["cancel_reason"] == "day_closed" for t in ts),
            "avg_wait_s": reports._round(sum(waits) / len(waits)) if waits else None,
            "p90_wait_s": reports._round(p90(waits)),
            "avg_service_s": reports._round(sum(t["service_s"] for t in done) / len(done)) if done else None,
            "skip_rate": reports._rate(skipped, len(ts)), "over_yellow": yellow, "over_red": red}
    return out


def close(a, b) -> bool:
    return a == b or (a is not None and b is not None and abs(a - b) <= 0.1 + 1e-9)  # sums in another order


async def assert_report_is_brute_force(pool, start, end, group_by, hall=None, dept=None) -> int:
    got = await reports.queues(pool, start, end, group_by, hall, dept)
    want = await brute_force(pool, start, end, group_by, hall, dept)
    assert len(got) == len(want), (group_by, hall, dept, len(got), len(want))
    for r in got:
        w = want[(r["hall"] if group_by != "day" else None, r["key"])]
        for k, v in w.items():
            ok = close(r[k], v) if k in ("avg_wait_s", "avg_service_s") else r[k] == v
            assert ok, (group_by, hall, dept, r["hall"], r["key"], k, r[k], v)
    return len(got)


async def rollup(pool, table: str = "queue_daily") -> dict:
    rows = await pool.fetch(f"SELECT * FROM {table}")
    return {(r["hall"], r["day"], r["window"], r["clerk"], r["business"], r["dept"]): dict(r) for r in rows
            if r["issued"]}


MIGRATION = Path(queue_rollup.__file__).with_name("migrations") / "0002_queue_daily.sql"


async def assert_rollup_is_rebuilt(conn) -> None:
    """What ingest kept in queue_daily equals the migration's rebuild of it from the tickets."""
    sql = MIGRATION.read_text()
    rebuild = sql[sql.index("INSERT INTO queue_daily"):].replace("INSERT INTO queue_daily", "INSERT INTO rebuilt", 1)
    await conn.execute("CREATE TEMP TABLE rebuilt (LIKE queue_daily INCLUDING DEFAULTS)")
    await conn.execute(rebuild)
    rebuilt, kept = await rollup(conn, "rebuilt"), await rollup(conn)
    await conn.execute("DROP TABLE rebuilt")
    assert kept and rebuilt.keys() == kept.keys()
    sums = ("wait_sum", "service_sum")
    for k, r in kept.items():
        b = rebuilt[k]
        assert {c: b[c] for c in r if c not in sums} == {c: r[c] for c in r if c not in sums}, k
        assert all(math.isclose(b[c], r[c], abs_tol=1e-6) for c in sums), k


async def test_the_queue_rollup_equals_every_ticket_counted_again(central_client, central_app):
    _, pool = central_app
    rng = random.Random(14)
    seqs = {}
    for n in (1, 2):
        h = {**await make_token(pool, "hall", f"q{n}"), **JSON}
        seqs[n] = await ship(central_client, h, f"q{n}", hall_events(n, rng), prof=profile(n, (1800.0, 2700.0 - n)))
    assert await pool.fetchval("SELECT count(*) FROM tickets") == 420
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE status = 'cancelled'") > 10
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE business = 'C'") > 5
    # Waits exactly on edges and lines made it in (ties are where off-by-one hides).
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE first_called_at - issued_at IN (120, 1800, 2700)") > 5
    rows = 0
    for group in reports.GROUPS:
        rows += await assert_report_is_brute_force(pool, DAYS[0], DAYS[-1], group)
        rows += await assert_report_is_brute_force(pool, DAYS[1], DAYS[1], group, hall="q2")
        rows += await assert_report_is_brute_force(pool, DAYS[0], DAYS[1], group, dept="330100-01")
    assert rows > 60
    # Each row's histogram and sorted waits agree with each other.
    for r in (await rollup(pool)).values():
        assert r["waits"] == sorted(r["waits"]) and len(r["waits"]) == r["called"]
        assert [r[h] for h in queue_rollup.HIST] == [
            sum(queue_rollup.bin_of(w) == i for w in r["waits"]) for i in range(queue_rollup.BINS)]
    # The migration's rebuild from the tickets (for a store older than the rollup) is the same rollup.
    sql = MIGRATION.read_text()
    assert "{" + ",".join(map(str, queue_rollup.EDGES)) + "}" in sql  # the edges the file documents
    async with pool.acquire() as conn:
        await assert_rollup_is_rebuilt(conn)

    # New lines in a hall's profile: its waits past them are counted again, history included.
    before = {(r["hall"], r["key"]): r["over_yellow"] for r in await reports.queues(pool, DAYS[0], DAYS[-1], "hall")}
    h = {**await make_token(pool, "hall", "q1"), **JSON}
    ev = {"seq": seqs[1] + 1, "day": DAYS[-1], "at": 1_762_300_000.0, "kind": "hall_note", "data": {"at": 1.0}}
    r = await central_client.post("/api/v1/ingest", headers=h, content=json.dumps(
        {"hall": "q1", "after": seqs[1], "head": seqs[1] + 1, "profile": profile(1, (120.0, 1800.0)),
         "events": [ev]}).encode())
    assert r.status_code == 200, r.text
    for group in ("hall", "window", "day"):
        await assert_report_is_brute_force(pool, DAYS[0], DAYS[-1], group)
    after = {(r["hall"], r["key"]): r["over_yellow"] for r in await reports.queues(pool, DAYS[0], DAYS[-1], "hall")}
    assert after[("q1", "q1")] > before[("q1", "q1")] and after[("q2", "q2")] == before[("q2", "q2")]


async def test_a_resent_batch_moves_nothing_twice(central_client, central_app):
    _, pool = central_app
    h = {**await make_token(pool, "hall", "q1"), **JSON}
    events = hall_events(1, random.Random(3))[:120]
    await ship(central_client, h, "q1", events, size=40, prof=profile(1))
    first = await rollup(pool)
    await ship(central_client, h, "q1", events, size=13)  # the shipper resending after a lost reply
    assert await rollup(pool) == first
    await assert_report_is_brute_force(pool, DAYS[0], DAYS[-1], "window")
