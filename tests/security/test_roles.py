"""Roles (http-api.md 1.1, Command line): the green channel needs the `green` right (desk or admin),
a kiosk never issues it; booking check-in needs `check_in` or the holder; `desk` does nothing else;
`integration` has no route yet."""

from __future__ import annotations

from queued.core.calendar import HallCalendar
from tests.security.inputs_hall import bearer, client, demo_session, fingerprint, full_hall
from tests.security.test_holder_rating import err


async def test_the_green_channel_needs_a_desk_or_admin_token(make_daemon):
    d = await full_hall(make_daemon)
    async with client(d) as c:
        before = await fingerprint(d)
        body = {"business": "A", "priority": "green"}
        err(await c.post("/api/v1/tickets", json=body, headers=bearer(d, "kiosk")), 403, "forbidden")
        await demo_session(c)
        err(await c.post("/api/v1/tickets", json=body), 403, "forbidden")
        assert await fingerprint(d) == before
        for role in ("desk", "admin"):
            r = await c.post("/api/v1/tickets", json={**body, "channel": "desk"}, headers=bearer(d, role))
            assert r.status_code == 201 and r.json()["priority"] == "green", r.text


async def test_the_kiosk_page_offers_the_guide_desk_only_to_desk_and_admin(make_daemon):
    d = await full_hall(make_daemon)
    async with client(d) as kiosk, client(d) as desk:
        await kiosk.get(f"/kiosk?token={bearer(d, 'kiosk')['Authorization'][7:]}")
        page = await kiosk.get("/kiosk?mode=desk")
        assert 'name="green"' not in page.text
        r = await kiosk.post("/kiosk/take", data={"business": "A", "mode": "desk", "green": "1"})
        assert r.status_code == 303
        await desk.get(f"/kiosk?token={bearer(d, 'desk')['Authorization'][7:]}&mode=desk")
        page = await desk.get("/kiosk?mode=desk")
        assert 'name="green"' in page.text, page.text[:300]
        r = await desk.post("/kiosk/take", data={"business": "A", "mode": "desk", "green": "1"})
        assert r.status_code == 303
    tickets = sorted(d.runtime.engine.tickets.values(), key=lambda t: t.serial)
    assert [(t.channel, t.priority) for t in tickets] == [("kiosk", "normal"), ("desk", "green")]


async def test_the_desk_does_nothing_but_tickets_and_check_in(make_daemon):
    d = await full_hall(make_daemon)
    desk = bearer(d, "desk")
    async with client(d) as c:
        t = (await c.post("/api/v1/tickets", json={"business": "A"}, headers=desk)).json()
        before = await fingerprint(d)
        for method, url, body in [
            ("POST", "/api/v1/windows/1/call-next", None),
            ("POST", "/api/v1/windows/1/sign-in", {"clerk": "1001"}),
            ("GET", "/api/v1/windows", None),
            ("GET", "/api/v1/windows/1", None),
            ("GET", "/api/v1/hall/live", None),
            ("GET", "/api/v1/reports/reviews", None),
            ("GET", "/api/v1/reports/queues", None),
            ("GET", "/api/v1/reports/national", None),
            ("GET", "/api/v1/reports/followups", None),
            ("GET", "/api/v1/followups", None),
            ("GET", "/api/v1/reviews/1", None),
            ("GET", "/api/v1/screens", None),
            ("GET", "/api/v1/pads", None),
            ("GET", "/clerk/api/last-case", None),
            ("POST", "/api/v1/ratings", {"ticket": t["id"], "key": t["rating_key"], "level": 5}),
        ]:
            r = await c.request(method, url, json=body, headers=desk)
            err(r, 403, "forbidden")
        err(await c.request("DELETE", f"/api/v1/tickets/{t['id']}", headers=desk), 403, "not_holder")
        r = await c.post("/clerk/login", json={"token": desk["Authorization"][7:]})
        err(r, 403, "forbidden")
        r = await c.post("/admin/login", data={"token": desk["Authorization"][7:]})
        assert r.status_code == 403
        assert await fingerprint(d) == before


async def test_integration_has_no_route_yet(make_daemon):
    d = await full_hall(make_daemon)
    integration = bearer(d, "integration")
    async with client(d) as c:
        for method, url in [("POST", "/api/v1/tickets"), ("POST", "/api/v1/windows/1/call-next"),
                            ("GET", "/api/v1/windows"), ("GET", "/api/v1/reports/reviews"),
                            ("GET", "/api/v1/followups"), ("GET", "/api/v1/hall/live")]:
            r = await c.request(method, url, json={"business": "A"} if method == "POST" else None, headers=integration)
            err(r, 403, "forbidden")


async def test_booking_check_in_needs_check_in_or_the_holder(make_daemon, clock):
    clock.now = HallCalendar("Asia/Shanghai").at("2030-01-09", 9 * 60 + 50)  # a Wednesday, 09:50
    d = await full_hall(make_daemon)
    async with client(d) as phone, client(d, "10.0.0.9") as other:
        await demo_session(phone)
        b = (await phone.post("/api/v1/appointments", json={"business": "A", "day": "2030-01-09",
                                                           "start": "10:00"})).json()
        assert b.get("id"), b
        before = await fingerprint(d)
        for headers in (bearer(d, "kiosk"), bearer(d, "clerk", "1", "1001"), bearer(d, "supervisor")):
            err(await other.post(f"/api/v1/appointments/{b['id']}/check-in", headers=headers), 403, "forbidden")
        err(await other.post("/api/v1/appointments/check-in", json={"code": b["code"]},
                             headers=bearer(d, "clerk", "1", "1001")), 403, "forbidden")
        await demo_session(other)  # someone else's WeChat session
        err(await other.post(f"/api/v1/appointments/{b['id']}/check-in"), 403, "forbidden")
        assert await fingerprint(d) == before
        r = await other.post(f"/api/v1/appointments/{b['id']}/check-in", headers=bearer(d, "desk"))
        assert r.status_code == 201, r.text
        assert r.json()["rating_key"] and r.json()["appointment"] == b["id"]
