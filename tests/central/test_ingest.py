"""Ingest against a real PostgreSQL: idempotent by (hall, seq), in order, hostile input refused with
nothing stored, unknown kinds kept, tokens per hall and role."""

from __future__ import annotations

import gzip
import json

from central import tokens


async def make_token(pool, role: str, hall: str | None = None) -> dict[str, str]:
    async with pool.acquire() as conn:
        token, _ = await tokens.create(conn, role, hall)
    return {"Authorization": f"Bearer {token}"}


def ev(seq: int, kind: str = "ticket_issued", day: str = "2026-11-02", **data) -> dict:
    at = 1_762_050_000.0 + seq
    base = {"at": at}
    if kind == "ticket_issued":
        base.update(ticket=f"t{seq}", serial=seq, number=f"A{seq:03d}", business="A", channel="kiosk",
                    priority="normal")
    base.update(data)
    return {"seq": seq, "day": day, "at": at, "kind": kind, "data": base}


def body(events, hall="h1", after=0, **extra) -> bytes:
    return json.dumps({"hall": hall, "after": after, "events": events, **extra}).encode()


JSON = {"Content-Type": "application/json"}


async def stored(pool, hall="h1") -> list[tuple]:
    rows = await pool.fetch("SELECT seq, kind, data FROM events WHERE hall = $1 ORDER BY seq", hall)
    return [(r["seq"], r["kind"], json.loads(r["data"])) for r in rows]


async def test_a_resent_batch_is_stored_once_and_order_is_kept(central_client, central_app):
    _, pool = central_app
    h = {**await make_token(pool, "hall", "h1"), **JSON}
    first = [ev(i) for i in range(1, 6)]
    r = await central_client.post("/api/v1/ingest", content=body(first), headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"hall": "h1", "last_seq": 5, "stored": 5, "duplicates": 0}
    # The reply was lost: the hall resends the same batch, then one overlapping it.
    r = await central_client.post("/api/v1/ingest", content=body(first), headers=h)
    assert r.json() == {"hall": "h1", "last_seq": 5, "stored": 0, "duplicates": 5}
    r = await central_client.post("/api/v1/ingest", content=body([ev(i) for i in range(3, 9)], after=2), headers=h)
    assert r.json() == {"hall": "h1", "last_seq": 8, "stored": 3, "duplicates": 3}
    assert [s for s, _, _ in await stored(pool)] == list(range(1, 9))
    tickets = await pool.fetchval("SELECT count(*) FROM tickets WHERE hall = 'h1'")
    assert tickets == 8  # projections were not applied twice either


async def test_gzip_bodies_and_unknown_kinds_are_kept_not_interpreted(central_client, central_app):
    _, pool = central_app
    h = {**await make_token(pool, "hall", "h1"), **JSON, "Content-Encoding": "gzip"}
    events = [ev(1), ev(2, "ticket_parked", ticket="t1", window="3", reason="缺材料"),
              ev(3, "something_new_from_a_later_release", anything={"nested": [1, 2]})]
    r = await central_client.post("/api/v1/ingest", content=gzip.compress(body(events)), headers=h)
    assert r.status_code == 200, r.text
    kinds = [k for _, k, _ in await stored(pool)]
    assert kinds == ["ticket_issued", "ticket_parked", "something_new_from_a_later_release"]
    assert (await stored(pool))[2][2]["anything"] == {"nested": [1, 2]}


async def test_a_hall_cursor_beyond_the_store_is_told_to_resend(central_client, central_app):
    _, pool = central_app
    h = {**await make_token(pool, "hall", "h1"), **JSON}
    await central_client.post("/api/v1/ingest", content=body([ev(1), ev(2)]), headers=h)
    r = await central_client.post("/api/v1/ingest", content=body([ev(11)], after=10), headers=h)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "cursor_ahead" and r.json()["error"]["last_seq"] == 2
    assert [s for s, _, _ in await stored(pool)] == [1, 2]
    # A hall whose journal now ends before what the store holds (restored from an older backup).
    r = await central_client.post("/api/v1/ingest", content=body([], after=0, head=1), headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "journal_behind"


async def test_hostile_batches_are_refused_and_change_nothing(central_client, central_app):
    _, pool = central_app
    h = {**await make_token(pool, "hall", "h1"), **JSON}
    bad_bodies = [
        b"not json", b"[]", body([ev(2), ev(1)]), body([ev(1), ev(1)]),
        body([{**ev(1), "seq": -1}]), body([{**ev(1), "day": "2026-13-01"}]), body([{**ev(1), "kind": "DROP TABLE"}]),
        body([{**ev(1), "at": "soon"}]), body([{**ev(1), "data": [1]}]), body([ev(1, comment="\u0000")]),
        body([ev(1, comment="\ud800")]).replace(b"\\ud800", b"\\ud800"), body([ev(1)], extra=1),
        body([{**ev(1), "surplus": 1}]), body([ev(1)], after=-1), body([ev(1)], after=True),
        json.dumps({"hall": "h1", "events": [ev(i) for i in range(1, 5002)]}).encode(),
    ]
    for raw in bad_bodies:
        r = await central_client.post("/api/v1/ingest", content=raw, headers=h)
        assert r.status_code in (413, 422), (raw[:80], r.status_code, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}
    r = await central_client.post("/api/v1/ingest", content=b"\x1f\x8b garbage",
                                  headers={**h, "Content-Encoding": "gzip"})
    assert r.status_code == 422
    bomb = gzip.compress(b" " * (80 * 1024 * 1024))
    r = await central_client.post("/api/v1/ingest", content=bomb, headers={**h, "Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert await stored(pool) == []
    # Events that fit the envelope but not their kind are stored and skipped by the projections.
    odd = [ev(1, "ticket_called", ticket=12, window=None), ev(2, "ticket_finished", ticket="nope")]
    r = await central_client.post("/api/v1/ingest", content=body(odd), headers=h)
    assert r.status_code == 200
    assert len(await stored(pool)) == 2


async def test_tokens_are_per_hall_and_per_role(central_client, central_app):
    _, pool = central_app
    h1 = {**await make_token(pool, "hall", "h1"), **JSON}
    sup = await make_token(pool, "supervisor")
    r = await central_client.post("/api/v1/ingest", content=body([ev(1)], hall="h2"), headers=h1)
    assert r.status_code == 403  # h1's token never ships for another hall
    r = await central_client.post("/api/v1/ingest", content=body([ev(1)]), headers={**sup, **JSON})
    assert r.status_code == 403  # a supervisor reads, never writes events
    assert (await central_client.get("/api/v1/halls", headers=h1)).status_code == 403
    assert (await central_client.get("/api/v1/halls")).status_code == 401
    assert (await central_client.get("/api/v1/halls", headers={"Authorization": "Bearer qc_nope"})).status_code == 401
    # A new token for h1 replaces the old one: one live token per hall.
    h1_new = {**await make_token(pool, "hall", "h1"), **JSON}
    tokens_book = central_client._transport.app.state.tokens
    tokens_book._cache.clear()
    r = await central_client.post("/api/v1/ingest", content=body([ev(1)]), headers=h1)
    assert r.status_code == 401
    r = await central_client.post("/api/v1/ingest", content=body([ev(1)]), headers=h1_new)
    assert r.status_code == 200
    halls = (await central_client.get("/api/v1/halls", headers=sup)).json()["halls"]
    assert [(h["id"], h["last_seq"], h["events"]) for h in halls] == [("h1", 1, 1)]
    assert halls[0]["last_event_at"].startswith("2025-11-02T") or halls[0]["last_event_at"]


async def test_bound_cases_are_rated_one_by_one_and_counted_by_department(central_client, central_app):
    """一事一评: two 办件 bound to one ticket are two cases (with their departments); a ticket without
    bindings has its implicit case (its serial); a late rating replacing a time-out moves its count."""
    _, pool = central_app
    h = {**await make_token(pool, "hall", "h1"), **JSON, }
    sup = await make_token(pool, "supervisor")
    t = 1_762_050_000.0
    fin = {"window": "3", "clerk": "1001", "business": "A", "number": "A001", "started_at": t + 60,
           "wait_s": 50.0, "service_s": 100.0}
    events = [
        ev(1), ev(2, "ticket_called", ticket="t1", window="3", clerk="1001"),
        ev(3, "case_bound", case=101, ticket="t1", window="3", project_no="P1", dept_code="D-tax"),
        ev(4, "case_bound", case=102, ticket="t1", window="3", project_no="P2", dept_code="D-land"),
        ev(5, "ticket_finished", ticket="t1", case=1, **fin),
        ev(6, "rating_recorded", case=101, ticket="t1", level=5, reasons=0, comment="", channel="qr", window="3",
           clerk="1001", business="A", day="2026-11-02"),
        ev(7, "rating_timed_out", case=102, ticket="t1", window="3", clerk="1001", business="A", day="2026-11-02"),
        ev(8), ev(9, "ticket_finished", ticket="t8", case=8, **fin),
        ev(10, "rating_recorded", case=102, ticket="t1", level=1, reasons=3, comment="", channel="qr", window="3",
           clerk="1001", business="A", day="2026-11-02", replaced="unrated"),
    ]
    # Sent in pieces, as a shipper with a small batch would: bindings and finishes in different batches.
    for lo, hi in ((0, 3), (3, 6), (6, 10)):
        r = await central_client.post("/api/v1/ingest", content=body(events[lo:hi], after=lo), headers=h)
        assert r.status_code == 200, r.text
    q = "from=2026-11-02&to=2026-11-02"
    rows = (await central_client.get(f"/api/v1/reports/reviews?{q}&group_by=dept", headers=sup)).json()["rows"]
    by = {r["key"]: (r["served"], r["rated"], r["very_satisfied"], r["very_dissatisfied"]) for r in rows}
    assert by == {"D-tax": (1, 1, 1, 0), "D-land": (1, 1, 0, 1), None: (1, 0, 0, 0)}
    only = (await central_client.get(f"/api/v1/reports/reviews?{q}&group_by=window&dept=D-land",
                                     headers=sup)).json()["rows"]
    assert [(r["hall"], r["key"], r["bad"], r["no_reason"]) for r in only] == [("h1", "3", 1, 0)]


async def test_two_instances_racing_on_one_resent_batch_store_it_once(central_client, central_app, central_url):
    """Stateless behind a load balancer: the same batch reaching two instances at once is stored once."""
    import httpx

    from central.config import CentralConfig
    from central.service import build

    _, pool = central_app
    h = {**await make_token(pool, "hall", "h1"), **JSON}
    other_app, other_pool = await build(CentralConfig(database=central_url))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://b") as other:
            import asyncio
            for start in range(1, 400, 50):
                batch = body([ev(i) for i in range(start, start + 50)], after=start - 1)
                a, b = await asyncio.gather(central_client.post("/api/v1/ingest", content=batch, headers=h),
                                            other.post("/api/v1/ingest", content=batch, headers=h))
                assert a.status_code == b.status_code == 200, (a.text, b.text)
                assert sorted([a.json()["stored"], b.json()["stored"]]) == [0, 50]
    finally:
        await other_pool.close()
    assert [s for s, _, _ in await stored(pool)] == list(range(1, 401))
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE hall = 'h1'") == 400


async def test_garbage_on_every_route_is_a_clear_4xx(central_client, central_app):
    _, pool = central_app
    sup = await make_token(pool, "supervisor")
    hall = await make_token(pool, "hall", "h1")
    garbage = ["from=2026-02-30", "to=yesterday", "from=2026-12-01&to=2026-01-01", "group_by=planet",
               "format=pdf", "hall=" + "x" * 100, "dept=%00", "month=2026-13", "by=clerk", "months=99",
               "state=lost", "overdue=maybe", "limit=-1", "surprise=1", "from=%ED%A0%80", "hall=%ud800", "hall=%00",
               "hall=a%0Ab", "dept=", "hall="]
    routes = ["/api/v1/reports/reviews", "/api/v1/reports/queues", "/api/v1/reports/ranking", "/api/v1/followups",
              "/api/v1/halls"]
    for route in routes:
        for q in garbage:
            r = await central_client.get(f"{route}?{q}", headers=sup)
            assert r.status_code < 500, (route, q, r.text)
            if r.status_code >= 400:
                assert set(r.json()["error"]) >= {"code", "message"}
        r = await central_client.get(route, headers=hall)
        assert r.status_code == 403
    for method, path in (("GET", "/api/v1/ingest"), ("DELETE", "/api/v1/halls"), ("GET", "/nowhere")):
        r = await central_client.request(method, path, headers=sup)
        assert r.status_code in (404, 405) and "error" in r.json()
    r = await central_client.post("/api/v1/ingest", content=b"{}", headers={**hall})
    assert r.status_code == 422  # no JSON content type
    r = await central_client.get("/results?month=9999-99")
    assert r.status_code == 200
    r = await central_client.post("/city/login", data={"token": "x" * 5000}, headers={"Origin": "http://central"})
    assert r.status_code == 401
