"""The journal: replay equals live state; acknowledged means committed; a broken journal refuses."""

from __future__ import annotations

import random
import sqlite3

from queued.config import parse_config
from queued.core import commands as c
from queued.core.errors import CoreError
from queued.daemon import Daemon
from tests.support import hall_toml


def snapshot(engine, now: float) -> dict:
    """Everything a person could observe of the hall (positions from a plan played afresh: a
    derived query, whose cache may legitimately differ between the live and the replayed engine)."""
    engine.plans.reset()
    return {
        "day": engine.day,
        "counters": dict(engine.counters),
        "next_serial": engine.next_serial,
        "tickets": {
            t.id: (t.number, t.business, t.status, t.window, t.clerk, t.recalls, t.priority,
                   engine.estimate(t, now), t.cancel_reason, t.outcome, t.queued_at, t.parked_s)
            for t in engine.tickets.values()
        },
        "windows": {w.id: engine.window_view(w.id) for w in engine.windows.values()},
        "saturation": engine.saturation(now),
        "waiting": {b: engine.waiting(b) for b in engine.queues},
        "service_avg": {b: round(v, 6) for b, v in engine.service_avg.items()},
        "holders": sorted((k, v.id) for k, v in engine.holders.items()),
        "day_closed": engine.day_closed,
        "skipped": list(engine.skipped),
    }


def random_command(rng: random.Random, engine, i: int):
    windows = list(engine.windows)
    w = rng.choice(windows)
    roll = rng.random()
    if roll < 0.35:
        return c.IssueTicket(rng.choice("ABC"), f"id{i}", priority="green" if rng.random() < 0.05 else "normal",
                             openid=f"o{rng.randrange(30)}" if rng.random() < 0.3 else None)
    kinds = [c.CallNext, c.Recall, c.Skip, c.Start, c.Finish, c.Pause, c.Resume]
    if roll < 0.8:
        return rng.choice(kinds)(w)
    if roll < 0.84:  # 办结 with an outcome (办不成 needs a note), 暂停 with a reason
        outcome = rng.choice(["done", "accepted_pending", "returned", "consulted", "failed"])
        return c.Finish(w, outcome, "缺材料" if outcome == "failed" else "")
    if roll < 0.86:
        return c.Pause(w, reason=rng.choice(["会议", "就餐", None]))
    if roll < 0.9:  # 挂起, or 回呼 of a case this window parked
        parked = list(engine.windows[w].parked)
        return c.Unpark(w, ticket=rng.choice(parked)) if parked and rng.random() < 0.5 else c.Park(w, reason="补材料")
    if roll < 0.94:
        return c.Transfer(w, business=rng.choice("AB"), place=rng.choice(["front", "end", "issued"]))
    if roll < 0.96:
        return c.SignIn(w, clerk=rng.choice(["1001", "1002"]))
    if roll < 0.98 and engine.by_number:
        return c.CallNumber(w, number=rng.choice(list(engine.by_number)))
    if engine.tickets:
        return c.CancelTicket(rng.choice(list(engine.tickets)), check_holder=False)
    return c.CallNext(w)


async def test_replay_equals_live_state(tmp_path, clock):
    db = tmp_path / "hall.sqlite3"
    cfg = parse_config(hall_toml(str(db)))
    rng = random.Random(7)
    live = Daemon(cfg, clock=clock, adapters=[])
    await live.start()
    accepted = 0
    for i in range(2000):
        clock.advance(rng.uniform(0, 12))  # stays within the hall day
        try:
            await live.runtime.execute(random_command(rng, live.runtime.engine, i))
            accepted += 1
        except CoreError:
            pass
    assert accepted > 700
    eng = live.runtime.engine
    # The day really had outcomes, cases taken back after 挂起, and pauses with a reason.
    assert {"failed", "returned", "consulted"} <= {t.outcome for t in eng.tickets.values()}
    assert any(t.parked_s > 0 for t in eng.tickets.values())
    assert any(w.open_s > 0 for w in eng.windows.values())
    before = snapshot(live.runtime.engine, clock())
    await live.stop()

    again = Daemon(cfg, clock=clock, adapters=[])
    await again.start()
    try:
        assert again.runtime.replayed > 700
        assert snapshot(again.runtime.engine, clock()) == before
    finally:
        await again.stop()


async def test_projection_matches_the_engine(daemon, clock):
    rt = daemon.runtime
    for b in "AABBC":
        await rt.execute(c.IssueTicket(b, f"x{b}{clock()}"))
        clock.advance(1)
    await rt.execute(c.CallNext("1"))
    clock.advance(120)
    await rt.execute(c.Finish("1"))
    rows = await rt.journal.fetchall("SELECT id, number, status, window, service_s FROM tickets ORDER BY serial")
    assert [(r["number"], r["status"]) for r in rows] == [
        ("A001", "done"), ("A002", "waiting"), ("B001", "waiting"), ("B002", "waiting"), ("C001", "waiting")]
    assert rows[0]["window"] == "1" and rows[0]["service_s"] == 120
    for r in rows:
        assert rt.engine.tickets[r["id"]].status == r["status"]


async def test_a_reply_waits_for_the_commit(daemon):
    rt = daemon.runtime
    events, _ = await rt.execute(c.IssueTicket("A", "durable"))
    # Read with an independent connection: the ticket is on disk once execute() returned.
    conn = sqlite3.connect(daemon.config.database)
    try:
        row = conn.execute("SELECT number FROM tickets WHERE id='durable'").fetchone()
    finally:
        conn.close()
    assert row == ("A001",)


async def test_group_commit_keeps_order_under_concurrency(daemon):
    import asyncio

    rt = daemon.runtime
    await asyncio.gather(*(rt.execute(c.IssueTicket("A", f"g{i}")) for i in range(300)))
    assert rt.journal.commits < 300  # batched
    rows = await rt.journal.fetchall("SELECT number FROM tickets ORDER BY serial")
    assert [r["number"] for r in rows] == [f"A{i:03d}" for i in range(1, 301)]
    seqs = await rt.journal.fetchall("SELECT data FROM events WHERE kind='ticket_issued' ORDER BY seq")
    assert len(seqs) == 300


async def test_a_broken_journal_refuses_and_health_says_so(daemon, api, tokens):
    rt = daemon.runtime
    # Simulate a disk failure: the write connection breaks under the writer.
    await rt.journal.db.execute("PRAGMA query_only=ON")
    r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["kiosk"])
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "unavailable"
    assert (await api.get("/healthz")).status_code == 503
