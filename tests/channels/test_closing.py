"""当日业务不留号 as halls run it: issuing stops at `stop_issuing`, windows keep serving past `closes`
(延时服务), and only `hard_close` closes out what still waits (留号, counted); bookings never checked in
become no-shows, and the next day starts again at 001."""

from __future__ import annotations

import asyncio

import httpx

from queued.config import parse_config
from queued.daemon import Daemon
from tests.channels.conftest import MONDAY_10AM
from tests.support import hall_toml, token

ADAPTERS = ["queued.channels.appointments_api:Appointments", "queued.channels.kiosk:Kiosk"]
TIMES = 'stop_issuing = "16:45"\ncloses = "17:30"\nhard_close = "19:30"'


def at(hh: int, mm: int, ss: int = 0) -> float:
    return MONDAY_10AM + (hh - 10) * 3600 + mm * 60 + ss


def closing_config(db: str):
    return parse_config(hall_toml(db, hall_extra=TIMES), source="test")


async def test_the_day_ends_as_halls_run_it(tmp_path, clock):
    cfg = closing_config(str(tmp_path / "hall.sqlite3"))
    kiosk = {"Authorization": f"Bearer {token(cfg.database, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(cfg.database, 'clerk', '1', '1001')}"}
    desk = {"Authorization": f"Bearer {token(cfg.database, 'desk')}"}  # the guide desk checks bookings in

    # Monday morning: tickets, a booking that will be kept and one that will not.
    d = Daemon(cfg, clock=clock, adapters=ADAPTERS)
    await d.start()
    try:
        seen = await _until_past_closing(d, clock, kiosk, clerk, desk)
    finally:
        await d.stop()
    await _hard_close(cfg, clock, kiosk, desk, *seen)


async def _until_past_closing(d, clock, kiosk, clerk, desk):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
        issued = [(await api.post("/api/v1/tickets", json={"business": b}, headers=kiosk)).json()
                  for b in ("A", "A", "B", "C")]
        kept = (await api.post("/api/v1/appointments", json={"business": "B", "day": "2026-11-16",
                                                            "start": "16:30", "openid": "o-kept"}, headers=kiosk)).json()
        missed = (await api.post("/api/v1/appointments", json={"business": "A", "day": "2026-11-16",
                                                              "start": "16:00", "openid": "o-missed"},
                                 headers=kiosk)).json()
        later = (await api.post("/api/v1/appointments", json={"business": "A", "day": "2026-11-17",
                                                             "start": "11:00", "openid": "o-later"},
                                headers=kiosk)).json()
        called = (await api.post("/api/v1/windows/1/call-next", headers=clerk)).json()["ticket"]
        assert called["number"] == "A001"

        # 16:50: 取号已截止. No new numbers; the kiosk says so; a booking still checks in.
        clock.now = at(16, 50)
        r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        assert r.status_code == 409 and r.json()["error"]["code"] == "closed"
        assert "16:45取号已截止" in r.json()["error"]["message"]
        hall = (await api.get("/api/v1/hall")).json()
        assert hall["phase"]["phase"] == "stopped" and hall["phase"]["text"] == "取号已截止"
        assert not any(b["open"] for b in hall["businesses"])
        r = await api.get("/kiosk", params={"token": kiosk["Authorization"].split()[1]}, follow_redirects=True)
        assert r.text.count('data-state="stopped"') == 3 and "16:45取号已截止" in r.text
        r = await api.post(f"/api/v1/appointments/{kept['id']}/check-in", headers=desk)
        assert r.status_code == 201, r.text
        kept_ticket = r.json()["id"]

        # 17:31: past closing nobody is sent home (延时服务): they still wait and are still called.
        clock.now = at(17, 31)
        for t in issued[1:]:
            assert (await api.get(f"/api/v1/tickets/{t['id']}")).json()["status"] == "waiting"
        assert (await api.get("/api/v1/hall")).json()["phase"]["text"] == "延时服务中"
        r = await api.get("/kiosk")
        assert "延时服务中" in r.text and r.text.count('data-state="stopped"') == 3
        assert (await api.post("/api/v1/windows/1/finish", headers=clerk)).status_code == 200
        r = await api.post("/api/v1/windows/1/call-next", headers=clerk)
        assert r.status_code == 200 and r.json()["ticket"]["number"] == "A002"
        served_late = r.json()["ticket"]["id"]
    return issued, kept, missed, later, kept_ticket, served_late


async def _hard_close(cfg, clock, kiosk, desk, issued, kept, missed, later, kept_ticket, served_late):
    # A second before hard_close the daemon restarts (replaying the day); the runtime's timer closes out.
    clock.now = at(19, 29, 59)
    d = Daemon(cfg, clock=clock, adapters=ADAPTERS)
    await d.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
            book = d.adapter("Appointments").book
            for _ in range(300):  # the close-out fires 1 s after start; no-shows follow its commit
                if book.bookings[missed["id"]].status == "no_show":
                    break
                await asyncio.sleep(0.01)
            for t in (issued[2], issued[3]):
                got = (await api.get(f"/api/v1/tickets/{t['id']}")).json()
                assert (got["status"], got["cancel_reason"]) == ("cancelled", "day_closed"), got
            got = (await api.get(f"/api/v1/tickets/{kept_ticket}")).json()
            assert (got["status"], got["cancel_reason"]) == ("cancelled", "day_closed")
            assert (await api.get(f"/api/v1/tickets/{served_late}")).json()["status"] == "called"  # still served
            for code in ("A", "B", "C"):
                assert d.runtime.engine.waiting(code) == 0
            r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
            assert r.status_code == 409 and r.json()["error"]["code"] == "closed"
            r = await api.post(f"/api/v1/appointments/{later['id']}/check-in", headers=desk)
            assert r.status_code == 409  # tomorrow's booking, and the hall is closed anyway

            statuses = {b: (await api.get(f"/api/v1/appointments/{b}")).json()["status"]
                        for b in (kept["id"], missed["id"], later["id"])}
            assert statuses == {kept["id"]: "checked_in", missed["id"]: "no_show", later["id"]: "booked"}
            r = await api.get("/kiosk", params={"token": kiosk["Authorization"].split()[1]}, follow_redirects=True)
            assert "今日服务已结束" in r.text and r.text.count('data-state="stopped"') == 3

            # Tuesday 10:00: numbering starts again at 001; yesterday's closed tickets stay closed.
            clock.now = MONDAY_10AM + 86400
            r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
            assert r.status_code == 201 and r.json()["number"] == "A001"
            r = await api.post("/api/v1/tickets", json={"business": "C"}, headers=kiosk)
            assert r.json()["number"] == "C001"
            r = await api.get("/kiosk")
            assert 'data-state="stopped"' not in r.text and r.text.count('data-state="open"') == 3
            r = await api.post(f"/api/v1/appointments/{later['id']}/check-in", headers=desk)
            assert r.status_code == 201 and r.json()["number"] == "A002"
    finally:
        await d.stop()
