"""Only the holder rates (http-api.md 1.1, Tickets and Ratings): the issue reply's `rating_key`, or the
WeChat session of the ticket's openid. A clerk who knows the ticket id from their own replies, a staff
token, or a channel named in the body gets nothing; and the key is shown nowhere but to the holder."""

from __future__ import annotations

import json
import logging

from queued.config import parse_config
from queued.daemon import ADAPTERS, Daemon
from tests.security.inputs_hall import (
    DEMO_LOGIN,
    bearer,
    client,
    demo_session,
    fingerprint,
    full_hall,
    served,
)
from tests.support import hall_toml


def err(r, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["error"]["code"] == code, r.text
    assert r.json()["error"]["message"]


async def test_a_clerk_cannot_rate_their_own_case_and_the_citizen_still_can(make_daemon):
    d = await full_hall(make_daemon)
    async with client(d) as c:
        case = await served(c, d)
        ticket = case["finish"]["finished"]["ticket"]  # what the clerk's own reply tells them
        before = await fingerprint(d)
        # No key: refused, whoever asks, and nothing is journaled (not even a refusal).
        err(await c.post("/api/v1/ratings", json={"ticket": ticket, "level": 5}), 403, "not_holder")
        err(await c.post("/api/v1/ratings", json={"ticket": ticket, "level": 5, "key": "x" * 16}), 403, "not_holder")
        err(await c.post("/api/v1/ratings", json={"ticket": ticket, "level": 5}, headers=case["clerk"]), 403,
            "forbidden")
        assert await fingerprint(d) == before
        # A staff token never rates, even with the right key.
        key = case["issued"]["rating_key"]
        for role in ("clerk", "kiosk", "supervisor", "admin", "desk"):
            headers = case["clerk"] if role == "clerk" else bearer(d, role)
            r = await c.post("/api/v1/ratings", json={"ticket": ticket, "key": key, "level": 5}, headers=headers)
            err(r, 403, "forbidden")
        # The channel is what the server saw, never a field of the body.
        r = await c.post("/api/v1/ratings", json={"ticket": ticket, "key": key, "level": 1, "channel": "pad"})
        assert r.status_code == 422, r.text
        assert await fingerprint(d) == before
        # The citizen's honest 差评 goes through, recorded as a QR rating.
        r = await c.post("/api/v1/ratings", json={"ticket": ticket, "key": key, "level": 1, "reasons": [2]})
        assert r.status_code == 201, r.text
        assert r.json()["channel"] == "qr" and r.json()["level"] == 1
        err(await c.post("/api/v1/ratings", json={"ticket": ticket, "key": key, "level": 5}), 409, "already_rated")
    row = await d.runtime.journal.fetchone("SELECT level, channel FROM ratings WHERE ticket=?", (ticket,))
    assert tuple(row) == (1, "qr")


async def test_the_wechat_session_of_the_tickets_openid_rates_as_wechat(make_daemon):
    d = await full_hall(make_daemon)
    async with client(d) as phone, client(d, "10.0.0.8") as other:
        await demo_session(phone)
        r = await phone.post("/api/v1/tickets", json={"business": "A"})
        assert r.status_code == 201, r.text
        ticket = r.json()["id"]
        assert r.json()["rating_key"]
        clerk = bearer(d, "clerk", "1", "1001")
        assert (await phone.post("/api/v1/windows/1/call-next", headers=clerk)).status_code == 200
        assert (await phone.post("/api/v1/windows/1/finish", headers=clerk)).status_code == 200
        # Another citizen's session, or the openid written into the body, proves nothing.
        await demo_session(other)
        err(await other.post("/api/v1/ratings", json={"ticket": ticket, "level": 1}), 403, "not_holder")
        openid = d.runtime.engine.tickets[ticket].openid
        err(await other.post("/api/v1/ratings", json={"ticket": ticket, "level": 1, "openid": openid}), 422,
            "invalid_request")
        r = await phone.post("/api/v1/ratings", json={"ticket": ticket, "level": 4})
        assert r.status_code == 201, r.text
        assert r.json()["channel"] == "wechat"


async def test_the_key_is_only_in_the_issue_reply_and_the_holders_own_pages(make_daemon):
    d = await full_hall(make_daemon)
    admin = bearer(d, "admin")
    async with client(d) as c:
        case = await served(c, d)
        key = case["issued"]["rating_key"]
        assert isinstance(key, str) and len(key) >= 16
        ticket = case["issued"]["id"]
        assert key not in ticket
        seen = [json.dumps(case["finish"])]
        r = await c.post("/admin/login", data={"token": admin["Authorization"][7:], "next": "/admin"})
        assert r.status_code == 303, r.text
        for path, headers in [
            (f"/api/v1/tickets/{ticket}", {}),
            ("/api/v1/windows", admin),
            ("/api/v1/windows/1", admin),
            ("/api/v1/hall", {}),
            ("/api/v1/hall/live", admin),
            ("/api/v1/reports/reviews?format=csv", admin),
            ("/api/v1/reports/queues?format=csv", admin),
            ("/api/v1/reports/national?format=csv", admin),
            ("/screen", {}),
            ("/screen/state", {}),
            ("/admin", {}),
            ("/admin/reviews", {}),
            ("/clerk/api/last-case", case["clerk"]),
            ("/metrics", {}),
        ]:
            r = await c.get(path, headers=headers)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            seen.append(r.text)
        for text in seen:
            assert key not in text
        # Later calls of the window and a transfer show the ticket without its key too.
        r = await c.post("/api/v1/tickets", json={"business": "A"}, headers=bearer(d, "kiosk"))
        second = r.json()
        clerk = case["clerk"]
        r = await c.post("/api/v1/windows/1/call-next", headers=clerk)
        assert second["rating_key"] not in r.text
        r = await c.post("/api/v1/windows/1/transfer", json={"business": "B"}, headers=clerk)
        assert r.status_code == 200 and second["rating_key"] not in r.text


async def test_the_key_survives_a_restart_and_rates_a_case_of_an_earlier_day(make_daemon, clock):
    d = await full_hall(make_daemon, name="restart")
    async with client(d) as c:
        today = await served(c, d)
        earlier = await served(c, d)
    await d.stop()
    d2 = await full_hall(make_daemon, name="restart")  # same day: replay of the journal
    async with client(d2) as c:
        r = await c.post("/api/v1/ratings", json={"ticket": today["issued"]["id"],
                                                  "key": today["issued"]["rating_key"], "level": 5})
        assert r.status_code == 201, r.text
    await d2.stop()
    clock.advance(2 * 86400)  # no replay of those events: the book loads the open cases from the tables
    d3 = await full_hall(make_daemon, name="restart")
    async with client(d3) as c:
        ticket = earlier["issued"]["id"]
        err(await c.post("/api/v1/ratings", json={"ticket": ticket, "level": 1}), 403, "not_holder")
        r = await c.post("/api/v1/ratings", json={"ticket": ticket, "key": earlier["issued"]["rating_key"],
                                                  "level": 2, "reasons": [1]})
        assert r.status_code == 201, r.text
        assert r.json()["channel"] == "qr"
        # Even the refusal of a duplicate (which is journaled and counted) needs the holder.
        before = await fingerprint(d3)
        err(await c.post("/api/v1/ratings", json={"ticket": today["issued"]["id"], "level": 1}), 403, "not_holder")
        assert await fingerprint(d3) == before


async def test_a_case_past_the_rating_window_tells_a_stranger_nothing(make_daemon, clock):
    d = await full_hall(make_daemon, name="old")
    async with client(d) as c:
        case = await served(c, d)
    await d.stop()
    clock.advance(9 * 86400)
    d2 = await full_hall(make_daemon, name="old")
    async with client(d2) as c:
        ticket = case["issued"]["id"]
        before = await fingerprint(d2)
        err(await c.post("/api/v1/ratings", json={"ticket": ticket, "level": 1}), 403, "not_holder")
        assert await fingerprint(d2) == before
        r = await c.post("/api/v1/ratings", json={"ticket": ticket, "key": case["issued"]["rating_key"], "level": 1})
        err(r, 409, "rating_closed")


async def test_the_key_stays_out_of_the_log(tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    cfg = parse_config(hall_toml(str(tmp_path / "log.sqlite3"), extra=DEMO_LOGIN), source="test")
    d = Daemon(cfg, clock=clock, adapters=ADAPTERS)
    await d.start()
    try:
        async with client(d) as c:
            case = await served(c, d)
            key = case["issued"]["rating_key"]
            await c.post("/api/v1/ratings", json={"ticket": case["issued"]["id"], "key": key + "x", "level": 1})
            await c.post("/api/v1/ratings", json={"ticket": case["issued"]["id"], "key": key, "level": 1})
    finally:
        await d.stop()
    assert key not in caplog.text


async def test_the_pad_path_is_unchanged(make_daemon):
    from evaluator.commands import Rate

    d = await full_hall(make_daemon)
    async with client(d) as c:
        case = await served(c, d)
    x = await d.adapter("EvaluatorAdapter").rate(Rate(5, case=case["finish"]["finished"]["case"], channel="pad",
                                                      window="1"))
    assert x.channel == "pad" and x.level == 5
