"""当日业务不留号: at closing every waiting ticket is closed as not served, issuing is refused,
bookings never checked in become no-shows, and the next day starts again at 001."""

from __future__ import annotations

import asyncio

import httpx

from queued.config import parse_config
from queued.daemon import Daemon
from tests.channels.conftest import MONDAY_10AM
from tests.support import hall_toml, token

ADAPTERS = ["queued.channels.appointments_api:Appointments", "queued.channels.kiosk:Kiosk"]


def closing_config(db: str):
    text = hall_toml(db).replace("rating_timeout_s = 30", 'rating_timeout_s = 30\ncloses = "17:30"')
    return parse_config(text, source="test")


async def test_closing_time_closes_the_day(tmp_path, clock):
    cfg = closing_config(str(tmp_path / "hall.sqlite3"))
    kiosk = {"Authorization": f"Bearer {token(cfg.database, 'kiosk')}"}
    desk = {"Authorization": f"Bearer {token(cfg.database, 'desk')}"}  # the guide desk checks bookings in
    clerk = {"Authorization": f"Bearer {token(cfg.database, 'clerk', '1', '1001')}"}

    # Monday morning: tickets, a booking that will be kept and one that will not.
    d = Daemon(cfg, clock=clock, adapters=ADAPTERS)
    await d.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
        issued = [(await api.post("/api/v1/tickets", json={"business": b}, headers=kiosk)).json()
                  for b in ("A", "A", "B", "C")]
        kept = (await api.post("/api/v1/appointments", json={"business": "B", "day": "2026-11-16",
                                                            "start": "16:00", "openid": "o-kept"}, headers=kiosk)).json()
        missed = (await api.post("/api/v1/appointments", json={"business": "A", "day": "2026-11-16",
                                                              "start": "16:30", "openid": "o-missed"},
                                 headers=kiosk)).json()
        later = (await api.post("/api/v1/appointments", json={"business": "A", "day": "2026-11-17",
                                                             "start": "11:00", "openid": "o-later"},
                                headers=kiosk)).json()
        r = await api.post(f"/api/v1/appointments/{kept['id']}/check-in", headers=desk)
        assert r.status_code == 201, r.text  # early: it waits in the appointment lane
        kept_ticket = r.json()["id"]
        called = (await api.post("/api/v1/windows/1/call-next", headers=clerk)).json()["ticket"]
        assert called["number"] == "A001"
    await d.stop()

    # A second before closing the daemon restarts (replaying the day); the runtime's timer closes it.
    clock.now = MONDAY_10AM + 7 * 3600 + 29 * 60 + 59
    d = Daemon(cfg, clock=clock, adapters=ADAPTERS)
    await d.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
            book = d.adapter("Appointments").book
            for _ in range(300):  # the close fires 1 s after start; no-shows follow its commit
                if book.bookings[missed["id"]].status == "no_show":
                    break
                await asyncio.sleep(0.01)

            for t in issued[1:]:
                got = (await api.get(f"/api/v1/tickets/{t['id']}")).json()
                assert (got["status"], got["cancel_reason"]) == ("cancelled", "day_closed"), got
            got = (await api.get(f"/api/v1/tickets/{kept_ticket}")).json()
            assert (got["status"], got["cancel_reason"]) == ("cancelled", "day_closed")
            assert (await api.get(f"/api/v1/tickets/{called['id']}")).json()["status"] == "called"  # still served
            for code in ("A", "B", "C"):
                assert d.runtime.engine.waiting(code) == 0

            r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
            assert r.status_code == 409 and r.json()["error"]["code"] == "closed"
            r = await api.post(f"/api/v1/appointments/{later['id']}/check-in", headers=desk)
            assert r.status_code == 409  # tomorrow's booking, and the hall is closed anyway

            statuses = {b: (await api.get(f"/api/v1/appointments/{b}")).json()["status"]
                        for b in (kept["id"], missed["id"], later["id"])}
            assert statuses == {kept["id"]: "checked_in", missed["id"]: "no_show", later["id"]: "booked"}
            rows = await d.runtime.journal.fetchall("SELECT id, status FROM appointments ORDER BY day, start_minute")
            assert [tuple(r) for r in rows] == [(kept["id"], "booked"), (missed["id"], "no_show"),
                                                (later["id"], "booked")]  # checked in = a ticket names it

            r = await api.get("/kiosk", params={"token": kiosk["Authorization"].split()[1]}, follow_redirects=True)
            assert r.text.count('data-state="day_closed"') == 3 and "今日已停止取号" in r.text

            # Tuesday 10:00: numbering starts again at 001; yesterday's closed tickets stay closed.
            clock.now = MONDAY_10AM + 86400
            r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
            assert r.status_code == 201 and r.json()["number"] == "A001"
            r = await api.post("/api/v1/tickets", json={"business": "C"}, headers=kiosk)
            assert r.json()["number"] == "C001"
            r = await api.get("/kiosk")
            assert 'data-state="day_closed"' not in r.text and r.text.count('data-state="open"') == 3
            r = await api.post(f"/api/v1/appointments/{later['id']}/check-in", headers=desk)
            assert r.status_code == 201 and r.json()["number"] == "A002"
    finally:
        await d.stop()
