"""Rate limits of citizens' ticket issue, booking and demo sign-in (issue 10: "a loop took 200
numbers in 1.3 s and booked every appointment seat of the day").

Before: nothing limited anonymous or WeChat-session requests; a loop of demo sign-ins took numbers
and bookings as fast as it could send them. Now each is limited per WeChat session and per client
address ([limits], docs/security.md); a refused request is 429 `rate_limited` with a Chinese
message and Retry-After, and changes nothing; staff tokens are not limited.
"""

from __future__ import annotations

import re

from queued.web.rate_limit import Bucket, RateLimits, limit_settings
from tests.security.inputs_hall import DEMO_LOGIN, bearer, client, demo_session, fingerprint, full_hall

LIMITS = DEMO_LOGIN + """
[limits]
issue_per_session = 3
issue_per_address = 8
book_per_session = 2
book_per_address = 5
sign_in_per_address = 100
"""


def refused(r, what: str) -> None:
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    assert err["code"] == "rate_limited"
    assert re.fullmatch(rf"{what}过于频繁，请 \d+ 分钟后再试。", err["message"]), err["message"]
    assert int(r.headers["retry-after"]) > 0


async def test_the_loop_of_the_issue_is_stopped_with_the_defaults(make_daemon):
    """The hole as found: 200 demo sign-ins, each taking a number. With the default limits the
    address gets 30 numbers, then 429; sign-ins stop at 30 too."""
    d = await full_hall(make_daemon)
    taken = refused_issue = refused_sign_in = 0
    async with client(d, "10.0.0.66") as c:
        for i in range(200):
            c.cookies.clear()
            r = await c.post("/m/demo-login", data={"next": "/m"})
            if r.status_code == 429:
                refused_sign_in += 1
                assert "登录过于频繁" in r.text  # a page the phone shows, not JSON
                continue
            assert r.status_code == 303, r.text
            r = await c.post("/api/v1/tickets", json={"business": "AB"[i % 2]})
            if r.status_code == 201:
                taken += 1
            else:
                refused(r, "取号")
                refused_issue += 1
    assert taken == 30 and refused_sign_in == 170 and refused_issue == 0
    hall = d.runtime.engine
    assert hall.waiting("A") + hall.waiting("B") == 30


async def test_a_session_and_an_address_are_each_limited_and_a_refusal_changes_nothing(make_daemon, clock):
    d = await full_hall(make_daemon, extra=LIMITS)
    async with client(d, "10.0.0.7") as phone, client(d, "10.0.0.8") as other:
        await demo_session(phone)
        for business in "ABC":  # one session: 3 numbers (one per business), then refused
            assert (await phone.post("/api/v1/tickets", json={"business": business})).status_code == 201
        before = await fingerprint(d)
        r = await phone.post("/api/v1/tickets", json={"business": "A"})
        refused(r, "取号")
        assert await fingerprint(d) == before

        # New sessions from the same address: the address has 8 in all.
        for _ in range(5):
            phone.cookies.clear()
            await demo_session(phone)
            assert (await phone.post("/api/v1/tickets", json={"business": "B"})).status_code == 201
        phone.cookies.clear()
        await demo_session(phone)
        before = await fingerprint(d)
        refused(await phone.post("/api/v1/tickets", json={"business": "B"}), "取号")
        assert await fingerprint(d) == before

        # Another phone, another address: not affected.
        await demo_session(other)
        assert (await other.post("/api/v1/tickets", json={"business": "A"})).status_code == 201

        # The kiosk issues for the whole hall from that same address: never limited here.
        kiosk = bearer(d, "kiosk")
        for _ in range(40):
            assert (await phone.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)).status_code == 201

        # The limit refills: one more per period/8 (7.5 min of the default hour).
        clock.advance(8 * 60)
        assert (await phone.post("/api/v1/tickets", json={"business": "C"})).status_code == 201
        refused(await phone.post("/api/v1/tickets", json={"business": "A"}), "取号")
        metrics = (await phone.get("/metrics")).text
    assert 'queued_rate_limited_total{action="issue"} 3.0' in metrics


async def test_a_loop_cannot_book_every_seat_of_the_day(make_daemon):
    d = await full_hall(make_daemon, extra=LIMITS)
    async with client(d, "10.0.0.9") as c:
        r = await c.get("/api/v1/appointments/slots", params={"business": "A"})
        assert r.status_code == 200, r.text
        table = r.json()
        day, seats = table["days"][-1], None
        r = await c.get("/api/v1/appointments/slots", params={"business": "A", "day": day})
        slots = [s for s in r.json()["slots"] if s["open"]]
        seats = sum(s["remaining"] for s in slots)
        assert seats > 20
        booked = 0
        for i in range(seats):
            c.cookies.clear()
            await demo_session(c)
            start = slots[(i // 4) % len(slots)]["start"]
            before = await fingerprint(d)
            r = await c.post("/api/v1/appointments", json={"business": "A", "day": day, "start": start})
            if r.status_code == 201:
                booked += 1
            else:
                refused(r, "预约")
                assert await fingerprint(d) == before
        assert booked == 5
        r = await c.get("/api/v1/appointments/slots", params={"business": "A", "day": day})
        assert sum(s["remaining"] for s in r.json()["slots"] if s["open"]) == seats - 5
        # The guide desk books for citizens with its token: not limited.
        desk = bearer(d, "kiosk")
        r = await c.post("/api/v1/appointments", headers=desk,
                         json={"business": "A", "day": day, "start": slots[-1]["start"], "openid": "o-desk-1"})
        assert r.status_code == 201, r.text


async def test_a_session_cannot_book_more_than_its_share(make_daemon):
    d = await full_hall(make_daemon, extra=LIMITS)
    async with client(d, "10.0.0.10") as c:
        await demo_session(c)
        days = (await c.get("/api/v1/appointments/slots", params={"business": "A"})).json()["days"]
        results = []
        for day in days[1:4]:  # days[0] is today, whose 09:00 has passed
            r = await c.post("/api/v1/appointments", json={"business": "A", "day": day, "start": "09:00"})
            results.append(r)
        assert [r.status_code for r in results] == [201, 201, 429]
        refused(results[-1], "预约")


def test_a_flood_of_keys_cannot_grow_memory_nor_reset_a_limit():
    now = 1000.0
    b = Bucket(count=3, period_s=3600, max_tracked=1000)
    for _ in range(3):
        assert b.wait("victim", now) == 0
        b.charge("victim", now)
    assert b.wait("victim", now) > 0
    for i in range(100_000):  # a flood of made-up addresses (or sessions), each charged once
        if b.wait(f"flood-{i}", now) == 0:
            b.charge(f"flood-{i}", now)
    assert len(b) <= 1000
    assert b.wait("victim", now) > 0  # still limited: the flood did not push it out
    # The flood's newcomers shared one bucket once the table was full: 3 of them got through.
    assert b.wait("newcomer", now) > 0
    # Once a key's bucket is full again it holds nothing and makes room; the victim refills as due.
    later = now + 3600
    assert b.wait("victim", later) == 0 and b.wait("newcomer", later) == 0


def test_a_limit_of_0_is_off_and_the_defaults_are_sane(daemon):
    s = limit_settings(daemon.config)
    assert (s["issue_per_session"], s["issue_per_address"], s["book_per_address"]) == (10, 30, 10)
    limits = RateLimits({**s, "issue_per_session": 0, "issue_per_address": 0}, lambda: 0.0)
    for _ in range(1000):
        limits.take("issue", "10.0.0.1", "o1")
    assert limits.sizes()["issue_address"] == 0


def test_addresses_are_keyed_as_networks_of_one_subscriber():
    from types import SimpleNamespace

    from queued.web.rate_limit import client_address

    def key(host):
        return client_address(SimpleNamespace(client=SimpleNamespace(host=host) if host is not None else None))

    assert key("10.0.0.7") == "10.0.0.7"
    assert key("2001:db8:1:2:aaaa::1") == key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")
    assert key("::ffff:10.0.0.7") == "10.0.0.7"
    assert key("not-an-address") == key("\x01" * 5000) == key(None) == "?"  # bounded keys, whatever a proxy says
