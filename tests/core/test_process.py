"""A real `queued serve` process: concurrent numbering, and SIGKILL during issuing loses nothing."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import httpx
import pytest

from tests.support import serve_hall, token


@pytest.fixture
def served(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    yield proc, base, db
    proc.stop()


async def _issue_many(base: str, headers: dict, n: int, business: str = "A") -> list[dict]:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        rs = await asyncio.gather(*(client.post("/api/v1/tickets", json={"business": business}, headers=headers)
                                    for _ in range(n)))
    assert all(r.status_code == 201 for r in rs), [r.text for r in rs if r.status_code != 201][:3]
    return [r.json() for r in rs]


async def test_simultaneous_requests_get_consecutive_numbers(served):
    proc, base, db = served
    h = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    tickets = await _issue_many(base, h, 300)
    numbers = sorted(int(t["number"][1:]) for t in tickets)
    assert numbers == list(range(1, 301))  # A001…A300: no gap, no duplicate
    assert len({t["id"] for t in tickets}) == 300


async def test_sigkill_during_issuing_loses_no_acknowledged_ticket(served, tmp_path):
    proc, base, db = served
    h = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    acknowledged: list[dict] = []
    stop = asyncio.Event()

    async def client_loop(client: httpx.AsyncClient, business: str):
        while not stop.is_set():
            try:
                r = await client.post("/api/v1/tickets", json={"business": business}, headers=h)
            except httpx.HTTPError:
                return  # the daemon died mid-request: that ticket was never acknowledged
            if r.status_code == 201:
                acknowledged.append(r.json())

    async with httpx.AsyncClient(base_url=base, timeout=5, limits=httpx.Limits(max_connections=32)) as client:
        tasks = [asyncio.create_task(client_loop(client, "AB"[i % 2])) for i in range(16)]
        while len(acknowledged) < 400:
            await asyncio.sleep(0.01)
        proc.kill(signal.SIGKILL)  # at an arbitrary moment, with requests in flight
        stop.set()
        await asyncio.gather(*tasks)

    assert len(acknowledged) >= 400
    proc.start(base)  # same database
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        for t in acknowledged:
            got = (await client.get(f"/api/v1/tickets/{t['id']}")).json()
            assert got["number"] == t["number"] and got["status"] == "waiting"
        # numbering continues after the highest acknowledged number: never reissued
        fresh = (await client.post("/api/v1/tickets", json={"business": "A"}, headers=h)).json()
    highest_a = max(int(t["number"][1:]) for t in acknowledged if t["business"] == "A")
    assert int(fresh["number"][1:]) > highest_a
    conn = sqlite3.connect(db)
    try:
        dupes = conn.execute("SELECT number, COUNT(*) FROM tickets GROUP BY day, number HAVING COUNT(*) > 1").fetchall()
    finally:
        conn.close()
    assert dupes == []


async def test_a_broken_journal_stops_the_daemon_and_a_restart_recovers(served):
    """Fail-stop: with the database made read-only under it, the daemon answers 503 and exits
    non-zero (a service manager restarts it); the restarted daemon has every acknowledged ticket."""
    proc, base, db = served
    h = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        first = (await client.post("/api/v1/tickets", json={"business": "A"}, headers=h)).json()
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # another process holds the write lock: the journal's commit times out
        try:
            r = await client.post("/api/v1/tickets", json={"business": "A"}, headers=h, timeout=15)
            assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
            proc.proc.wait(15)
        finally:
            conn.rollback()
            conn.close()
    assert proc.proc.returncode not in (0, None)
    assert "journal failed" in proc.log.read_text()
    proc.start(base)
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        assert (await client.get(f"/api/v1/tickets/{first['id']}")).json()["number"] == "A001"
        again = (await client.post("/api/v1/tickets", json={"business": "A"}, headers=h)).json()
    assert again["number"] == "A002"  # the refused ticket was never acknowledged, so its number is free
