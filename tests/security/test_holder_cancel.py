"""Cancelling a ticket needs its holder (the rating key, or the WeChat session of its openid) or staff;
an openid in the body alone proves nothing (http-api.md 1.1, Tickets)."""

from __future__ import annotations

from tests.security.inputs_hall import bearer, client, demo_session, fingerprint, full_hall
from tests.security.test_holder_rating import err


async def test_a_kiosk_ticket_is_cancelled_only_with_its_key_or_by_staff(make_daemon):
    d = await full_hall(make_daemon)
    kiosk = bearer(d, "kiosk")
    async with client(d) as c:
        t = (await c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)).json()
        before = await fingerprint(d)
        for body in (None, {}, {"openid": "anyone"}, {"key": "wrong-key-000000"}, {"key": t["id"]}):
            r = await c.request("DELETE", f"/api/v1/tickets/{t['id']}", json=body)
            err(r, 403, "not_holder")
        for role in ("kiosk", "desk"):  # a supervisor may (the live hall's 取消, test_live_hall.py)
            r = await c.request("DELETE", f"/api/v1/tickets/{t['id']}", json={}, headers=bearer(d, role))
            err(r, 403, "not_holder")
        r = await c.request("DELETE", f"/api/v1/tickets/{t['id']}", json={},
                            headers=bearer(d, "clerk", "1", "1001"))
        err(r, 403, "not_holder")
        assert await fingerprint(d) == before
        assert d.runtime.engine.tickets[t["id"]].status == "waiting"

        r = await c.request("DELETE", f"/api/v1/tickets/{t['id']}", json={"key": t["rating_key"]})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "holder"
        assert "rating_key" not in r.json()

        t2 = (await c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)).json()
        r = await c.request("DELETE", f"/api/v1/tickets/{t2['id']}", headers=bearer(d, "admin"))
        assert r.status_code == 200 and r.json()["cancel_reason"] == "admin"


async def test_a_wechat_ticket_is_cancelled_by_its_session_not_by_naming_its_openid(make_daemon):
    d = await full_hall(make_daemon)
    async with client(d) as phone, client(d, "10.0.0.9") as stranger:
        await demo_session(phone)
        t = (await phone.post("/api/v1/tickets", json={"business": "B"})).json()
        openid = d.runtime.engine.tickets[t["id"]].openid
        before = await fingerprint(d)
        r = await stranger.request("DELETE", f"/api/v1/tickets/{t['id']}", json={"openid": openid})
        err(r, 403, "not_holder")
        await demo_session(stranger)
        r = await stranger.request("DELETE", f"/api/v1/tickets/{t['id']}", json={"openid": openid})
        err(r, 403, "not_holder")
        assert await fingerprint(d) == before
        r = await phone.request("DELETE", f"/api/v1/tickets/{t['id']}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
