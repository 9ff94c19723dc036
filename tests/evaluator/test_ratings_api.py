"""一次一评 over HTTP on an in-process daemon: what a citizen scanning the ticket's QR code sees."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from evaluator.commands import Rate, RatingTimeout
from evaluator.errors import AlreadyRated
from queued.config import parse_config
from queued.daemon import Daemon
from tests.evaluator.conftest import EVALUATOR
from tests.evaluator.helpers import serve
from tests.support import hall_toml, token


async def metric(api, name: str, **labels) -> float:
    """One sample of /metrics, labels in any order; 0 when the series does not exist yet."""
    for line in (await api.get("/metrics")).text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        found = dict(p.split("=", 1) for p in series[len(name):].strip("{}").split(",") if p)
        if found == {k: f'"{v}"' for k, v in labels.items()}:
            return float(value)
    return 0.0


async def count(daemon, sql: str, params=()) -> int:
    row = await daemon.runtime.journal.fetchone(sql, params)
    return row[0]


async def test_rate_once_then_duplicate_is_refused_and_counted(api, tokens, daemon):
    ticket = await serve(api, tokens)
    r = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": ticket.key, "level": 2, "reasons": [1, 3], "comment": "等太久"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["level"] == 2 and body["level_name"] == "不满意" and body["bad"] is True
    assert body["reasons"] == [1, 3]
    assert body["reason_names"] == ["服务态度差", "一次告知不清"]
    assert body["channel"] == "qr" and body["window"] == "1" and body["clerk"] == "1001"
    assert body["no_reason"] is False

    r2 = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": ticket.key, "level": 5})
    assert r2.status_code == 409
    assert r2.json()["error"]["code"] == "already_rated"
    assert await count(daemon, "SELECT COUNT(*) FROM rating_refusals WHERE ticket=?", (ticket,)) == 1
    assert await metric(api, "queued_rating_refusals_total", channel="qr") == 1
    assert await metric(api, "queued_ratings_total", level="2", channel="qr") == 1

    # The pad of the same window is refused as well: one rating per case whatever the channel.
    adapter = daemon.adapter("EvaluatorAdapter")
    with pytest.raises(AlreadyRated):
        await adapter.rate(Rate(5, case=body["case"], channel="pad", window="1"))
    assert await count(daemon, "SELECT COUNT(*) FROM rating_refusals") == 2

    # A holder looping duplicates: every attempt refused and counted, the journal grows by none.
    events = await count(daemon, "SELECT COUNT(*) FROM events")
    for _ in range(20):
        r = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": ticket.key, "level": 1})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_rated"
    assert await count(daemon, "SELECT COUNT(*) FROM events") == events
    assert await count(daemon, "SELECT COUNT(*) FROM rating_refusals") == 2
    assert await metric(api, "queued_rating_refusals_total", channel="qr") == 21
    row = await daemon.runtime.journal.fetchone("SELECT level, reasons, comment, channel FROM ratings")
    assert tuple(row) == (2, 0b101, "等太久", "qr")

    r = await api.get(f"/api/v1/reviews/{body['case']}", headers=tokens["supervisor"])
    assert r.status_code == 200
    assert r.json()["level"] == 2 and r.json()["reason_names"] == ["服务态度差", "一次告知不清"]


async def test_bad_rating_without_reason_is_flagged(api, tokens, daemon):
    ticket = await serve(api, tokens)
    r = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": ticket.key, "level": 1})
    assert r.status_code == 201
    assert r.json()["no_reason"] is True
    assert await count(daemon, "SELECT no_reason FROM ratings") == 1


async def test_not_served_unknown_and_bad_bodies_change_nothing(api, tokens, daemon):
    r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["kiosk"])
    waiting, waiting_key = r.json()["id"], r.json()["rating_key"]
    r = await api.post("/api/v1/ratings", json={"ticket": waiting, "key": waiting_key, "level": 5})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_served"
    r = await api.post("/api/v1/ratings", json={"ticket": "no-such-ticket", "level": 5})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_ticket"

    served = await serve(api, tokens, business="B", clerk="clerk2", window="2")
    bad_bodies = [
        b"not json",
        b"[1, 2]",
        {"ticket": served, "key": served.key},
        {"ticket": served, "key": served.key, "level": 0},
        {"ticket": served, "key": served.key, "level": 6},
        {"ticket": served, "key": served.key, "level": "5"},
        {"ticket": served, "key": served.key, "level": True},
        {"ticket": served, "key": served.key, "level": 2, "reasons": [7]},
        {"ticket": served, "key": served.key, "level": 2, "reasons": [0]},
        {"ticket": served, "key": served.key, "level": 2, "reasons": [1, 1]},
        {"ticket": served, "key": served.key, "level": 2, "reasons": "1"},
        {"ticket": served, "key": served.key, "level": 2, "comment": "长" * 501},
        {"ticket": served, "key": served.key, "level": 4, "channel": "pad"},
        {"ticket": served, "key": served.key, "level": 4, "stars": 5},
        {"ticket": 12, "level": 4},
    ]
    events_before = await count(daemon, "SELECT COUNT(*) FROM events")
    for body in bad_bodies:
        if isinstance(body, bytes):
            r = await api.post("/api/v1/ratings", content=body, headers={"content-type": "application/json"})
        else:
            r = await api.post("/api/v1/ratings", json=body)
        assert 400 <= r.status_code < 500 and r.status_code != 404, (body, r.status_code, r.text)
        assert r.json()["error"]["message"], body
    assert await count(daemon, "SELECT COUNT(*) FROM ratings") == 0
    assert await count(daemon, "SELECT COUNT(*) FROM rating_refusals") == 0
    assert await count(daemon, "SELECT COUNT(*) FROM events") == events_before
    # And the case can still be rated properly afterwards.
    r = await api.post("/api/v1/ratings", json={"ticket": served, "key": served.key, "level": 4})
    assert r.status_code == 201


async def wait_for(predicate, timeout: float = 3.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_timeout_of_a_window_without_pad_records_unrated_then_a_qr_rating_replaces_it(api, tokens, daemon):
    adapter = daemon.adapter("EvaluatorAdapter")
    adapter.timeout_delay = 0.05  # the hall's 30 s, shortened
    ticket = await serve(api, tokens)
    j = daemon.runtime.journal

    async def timed_out():
        row = await j.fetchone("SELECT state FROM cases WHERE ticket=?", (ticket,))
        return row is not None and row["state"] == "unrated"

    assert await wait_for(timed_out)
    row = await j.fetchone("SELECT level, channel, defaulted FROM ratings WHERE ticket=?", (ticket,))
    assert tuple(row) == (None, "timer", 0)
    assert await metric(api, "queued_ratings_total", level="none", channel="timer") == 1
    r = await api.get("/api/v1/reports/reviews?group_by=window", headers=tokens["supervisor"])
    assert r.json()["rows"][0]["unrated"] == 1 and r.json()["rows"][0]["rated"] == 0

    # The pad timing out is not a rating: the citizen may still rate by QR within the window.
    r = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": ticket.key, "level": 5})
    assert r.status_code == 201 and r.json()["replaced"] == "unrated"
    r = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": ticket.key, "level": 1})
    assert r.status_code == 409


async def test_unrated_default_records_a_defaulted_level(tmp_path, clock):
    text = hall_toml(str(tmp_path / "default.sqlite3")).replace(
        "rating_timeout_s = 30", "rating_timeout_s = 30\nunrated_default = 3")
    d = Daemon(parse_config(text), clock=clock, adapters=[EVALUATOR])
    await d.start()
    try:
        db = d.config.database
        tokens = {"kiosk": bearer(db, "kiosk"), "clerk1": bearer(db, "clerk", "1", "1001"),
                  "supervisor": bearer(db, "supervisor")}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
            ticket = await serve(api, tokens)
            case = (await api.get(f"/api/v1/tickets/{ticket}")).json()["case"]
            await d.runtime.execute(RatingTimeout(case))
            row = await d.runtime.journal.fetchone("SELECT level, channel, defaulted FROM ratings")
            assert tuple(row) == (3, "default", 1)
            rep = (await api.get("/api/v1/reports/reviews?group_by=clerk", headers=tokens["supervisor"])).json()
            assert rep["rows"][0]["basic_satisfied"] == 1 and rep["rows"][0]["defaulted"] == 1
            # A second time-out changes nothing; a real rating within the window replaces the default.
            events, _ = await d.runtime.execute(RatingTimeout(case))
            assert events == []
            r = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": ticket.key, "level": 2, "reasons": [2]})
            assert r.status_code == 201 and r.json()["replaced"] == "defaulted"
            row = await d.runtime.journal.fetchone("SELECT level, channel, defaulted, replaced FROM ratings")
            assert tuple(row) == (2, "qr", 0, "defaulted")
    finally:
        await d.stop()


def bearer(db: str, role: str, window: str | None = None, clerk: str | None = None) -> dict:
    return {"Authorization": f"Bearer {token(db, role, window, clerk)}"}


async def test_replay_after_restart_keeps_ratings_and_refuses_a_duplicate(make_daemon, clock):
    d = await make_daemon(adapters=[EVALUATOR], name="replay")
    db = d.config.database
    tokens = {"kiosk": bearer(db, "kiosk"), "clerk1": bearer(db, "clerk", "1", "1001"),
              "supervisor": bearer(db, "supervisor")}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
        rated = await serve(api, tokens)
        assert (await api.post("/api/v1/ratings", json={"ticket": rated, "key": rated.key, "level": 4})).status_code == 201
        yesterday = await serve(api, tokens)  # to be rated after a restart on a later day
        never = await serve(api, tokens)  # never rated: closed once rating_window_days have passed
    await d.stop()

    # Same day: replay of today's journal.
    d2 = await make_daemon(adapters=[EVALUATOR], name="replay")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d2.app), base_url="http://hall") as api:
        r = await api.post("/api/v1/ratings", json={"ticket": rated, "key": rated.key, "level": 1})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_rated"
        assert (await api.get("/api/v1/reports/reviews", headers=tokens["supervisor"])).json()["rows"][0]["satisfied"] == 1
    await d2.stop()

    # Two days later: no replay of those events, the book loads the open cases from the database.
    clock.advance(2 * 86400)
    d3 = await make_daemon(adapters=[EVALUATOR], name="replay")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d3.app), base_url="http://hall") as api:
        r = await api.post("/api/v1/ratings", json={"ticket": rated, "key": rated.key, "level": 1})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_rated"
        r = await api.post("/api/v1/ratings", json={"ticket": yesterday, "key": yesterday.key, "level": 5})
        assert r.status_code == 201, r.text
    refusals = await d3.runtime.journal.fetchone("SELECT COUNT(*) FROM rating_refusals")
    assert refusals[0] == 2
    await d3.stop()

    # Past rating_window_days (7): closed, and a rated case is still refused as already rated.
    clock.advance(8 * 86400)
    d4 = await make_daemon(adapters=[EVALUATOR], name="replay")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d4.app), base_url="http://hall") as api:
        r = await api.post("/api/v1/ratings", json={"ticket": yesterday, "key": yesterday.key, "level": 1})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_rated"
        r = await api.post("/api/v1/ratings", json={"ticket": never, "key": never.key, "level": 5})
        assert r.status_code == 409 and r.json()["error"]["code"] == "rating_closed"
    await d4.stop()


async def test_reports_need_a_supervisor_or_admin(api, tokens):
    for path in ("/api/v1/reports/reviews", "/api/v1/reports/queues", "/api/v1/reports/national"):
        assert (await api.get(path)).status_code == 401
        assert (await api.get(path, headers={"Authorization": "Bearer nope"})).status_code == 401
        for role in ("kiosk", "clerk1"):
            r = await api.get(path, headers=tokens[role])
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        for role in ("supervisor", "admin"):
            assert (await api.get(path, headers=tokens[role])).status_code == 200


@pytest.mark.parametrize("query, words", [
    ("from=2026-13-01&to=2026-12-01", "from"),
    ("from=yesterday", "from"),
    ("from=2026-05-02&to=2026-05-01", "after"),
    ("group_by=hour", "group_by"),
    ("format=pdf", "format"),
    ("frm=2026-01-01", "unknown"),
])
async def test_bad_report_parameters_are_422_with_a_message(api, tokens, query, words):
    r = await api.get(f"/api/v1/reports/reviews?{query}", headers=tokens["supervisor"])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert words in r.json()["error"]["message"]
