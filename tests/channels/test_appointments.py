"""分时段预约 through the HTTP API: slots, booking, concurrency, cancel deadline, no-show limit,
check-in into the appointment lane."""

from __future__ import annotations

import asyncio

import pytest

from queued.channels.appointments_api import Appointments  # noqa: F401  (the adapter under test)

APPT = ["queued.channels.appointments_api:Appointments"]
DAY = "2026-11-16"  # the fixture's Monday; the clock stands at 10:00


@pytest.fixture
async def h(make_hall):
    h = await make_hall(adapters=APPT)
    h.sessions()
    return h


async def book(h, openid="o-1", business="A", day=DAY, start="11:00", headers=None):
    return await h.api.post("/api/v1/appointments", json={"business": business, "day": day, "start": start,
                                                          "openid": openid}, headers=headers or h.tokens["kiosk"])


async def test_slots_cover_the_business_hours_and_count_seats(h):
    r = await h.api.get("/api/v1/appointments/slots", params={"business": "A", "day": DAY})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["days"] == ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-23"]
    starts = [s["start"] for s in body["slots"]]
    assert starts[0] == "09:00" and starts[-1] == "16:30" and "12:00" not in starts  # lunch is not bookable
    by_start = {s["start"]: s for s in body["slots"]}
    assert not by_start["09:30"]["open"]  # already begun at 10:00
    assert by_start["11:00"] == {**by_start["11:00"], "remaining": 4, "booked": 0, "open": True}
    assert (await book(h)).status_code == 201
    r = await h.api.get("/api/v1/appointments/slots", params={"business": "A", "day": DAY})
    assert {s["start"]: s for s in r.json()["slots"]}["11:00"]["remaining"] == 3


async def test_bookable_days_follow_the_halls_holidays_and_make_up_days(make_hall):
    # The same calendar as 差评 deadlines: Wednesday a holiday, Saturday a make-up working day (调休).
    h = await make_hall(adapters=APPT, hall_extra='holidays = ["2026-11-18"]\nworkdays = ["2026-11-21"]')
    r = await h.api.get("/api/v1/appointments/slots", params={"business": "A", "day": DAY})
    assert r.json()["days"] == ["2026-11-16", "2026-11-17", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-23"]
    r = await book(h, day="2026-11-18")
    assert r.status_code >= 400 and r.json()["error"]["code"] in ("invalid_slot", "invalid_request")


async def test_business_hours_bound_the_slots(make_hall):
    extra = '\n[[business]]\ncode = "D"\nname = "税务办理"\nhours = ["08:30-10:00"]\n'
    extra += '\n[[window]]\nid = "4"\nbusinesses = ["D"]\n\n[appointments]\nslot_minutes = 20\n'
    h = await make_hall(extra=extra, adapters=APPT)
    r = await h.api.get("/api/v1/appointments/slots", params={"business": "D", "day": "2026-11-17"})
    assert [s["start"] for s in r.json()["slots"]] == ["08:30", "08:50", "09:10", "09:30"]


async def test_bad_requests_change_nothing(h):
    cases = [
        ({"business": "Z", "day": DAY, "start": "11:00", "openid": "x"}, 404, "unknown_business"),
        ({"business": "A", "day": "2026-11-21", "start": "11:00", "openid": "x"}, 422, "invalid_slot"),  # Saturday
        ({"business": "A", "day": "2026-12-30", "start": "11:00", "openid": "x"}, 422, "invalid_slot"),  # too far
        ({"business": "A", "day": DAY, "start": "11:10", "openid": "x"}, 422, "invalid_slot"),
        ({"business": "A", "day": DAY, "start": "09:30", "openid": "x"}, 409, "too_late"),
        ({"business": "A", "day": "16/11/2026", "start": "11:00", "openid": "x"}, 422, "invalid_request"),
        ({"business": "A", "day": DAY, "start": "11:00"}, 422, "invalid_request"),
        ({"business": "A", "day": DAY, "start": 11, "openid": "x"}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        r = await h.api.post("/api/v1/appointments", json=body, headers=h.tokens["kiosk"])
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    r = await h.api.post("/api/v1/appointments", json={"business": "A", "day": DAY, "start": "11:00", "openid": "x"})
    assert r.status_code == 401
    r = await book(h, headers=h.tokens["supervisor"])
    assert r.status_code == 403
    assert h.book.bookings == {}


async def test_concurrent_bookings_never_overbook_a_slot(h):
    results = await asyncio.gather(*(book(h, openid=f"o-{i}") for i in range(60)))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 4, codes
    full = [r for r in results if r.status_code != 201]
    assert all(r.status_code == 409 and r.json()["error"]["code"] == "slot_full" for r in full)
    assert "已约满" in full[0].json()["error"]["message"]
    rows = await h.daemon.runtime.journal.fetchall("SELECT * FROM appointments WHERE start_minute=660")
    assert len(rows) == 4 and len({r["code"] for r in rows}) == 4


async def test_one_booking_per_openid_business_and_day(h):
    assert (await book(h, start="11:00")).status_code == 201
    r = await book(h, start="14:00")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_booked"
    assert (await book(h, business="B", start="14:00")).status_code == 201  # another business
    assert (await book(h, day="2026-11-17", start="14:00")).status_code == 201  # another day


async def test_wechat_session_books_for_its_own_openid(h):
    r = await book(h, openid="someone-else", headers={"x-test-openid": "me"})
    assert r.status_code == 403
    r = await h.api.post("/api/v1/appointments", json={"business": "A", "day": DAY, "slot": "14:00"},
                         headers={"x-test-openid": "me"})
    assert r.status_code == 201 and r.json()["openid"] == "me"
    mine = await h.api.get("/api/v1/appointments", headers={"x-test-openid": "me"})
    assert [a["start"] for a in mine.json()["appointments"]] == ["14:00"]


async def test_cancel_until_the_deadline(h):
    r = await book(h, start="11:30", headers={"x-test-openid": "o-1"})
    bid = r.json()["id"]
    assert r.json()["cancel_before"].startswith("2026-11-16T10:30")
    r = await h.api.request("DELETE", f"/api/v1/appointments/{bid}", json={"openid": "o-2"})
    assert r.status_code == 403
    h.clock.advance(31 * 60)  # 10:31: less than 60 minutes before 11:30
    r = await h.api.request("DELETE", f"/api/v1/appointments/{bid}", headers={"x-test-openid": "o-1"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "too_late"
    assert "60分钟" in r.json()["error"]["message"]
    h.clock.advance(-2 * 60)  # 10:29
    r = await h.api.request("DELETE", f"/api/v1/appointments/{bid}", headers={"x-test-openid": "o-1"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    slots = (await h.api.get("/api/v1/appointments/slots", params={"business": "A", "day": DAY})).json()["slots"]
    assert {s["start"]: s for s in slots}["11:30"]["remaining"] == 4  # the seat is free again
    assert (await book(h, start="14:00")).status_code == 201  # and the day's booking allowance


async def test_check_in_puts_the_ticket_in_the_appointment_lane(h):
    bid = (await book(h, openid="o-appt", start="10:30")).json()["id"]
    for _ in range(3):
        await h.api.post("/api/v1/tickets", json={"business": "A"}, headers=h.tokens["kiosk"])
    r = await h.api.post(f"/api/v1/appointments/{bid}/check-in", headers=h.tokens["desk"])
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["number"] == "A004" and ticket["appointment"] == bid and ticket["appointment_slot"] == "10:30-11:00"
    # The truth, not "first": its slot is due at 10:20; windows 1 and 2 (closed, so played as if they
    # opened now) call A001 and A002 at 10:00 and A003 at 10:05, and only then, idle, this one early.
    assert ticket["position"] == 4
    again = await h.api.post(f"/api/v1/appointments/{bid}/check-in", headers=h.tokens["desk"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    # 10:00 now, slot 10:30, the hall lets appointments in 10 minutes early: not due yet.
    r = await h.api.post("/api/v1/windows/1/call-next", headers=h.tokens["clerk1"])
    assert r.json()["ticket"]["number"] == "A001"
    h.clock.advance(21 * 60)  # 10:21: due
    await h.api.post("/api/v1/windows/1/finish", headers=h.tokens["clerk1"])
    r = await h.api.post("/api/v1/windows/1/call-next", headers=h.tokens["clerk1"])
    assert r.json()["ticket"]["number"] == "A004"
    status = (await h.api.get(f"/api/v1/appointments/{bid}")).json()
    assert status["status"] == "checked_in" and status["ticket"] == ticket["id"] and "openid" not in status


async def test_check_in_by_code_and_by_wechat_session(h):
    r = await book(h, openid="o-code", start="11:00")
    code = r.json()["code"]
    assert len(code) == 6 and code.isdigit()
    r = await h.api.post("/api/v1/appointments/check-in", json={"code": "000000" if code != "000000" else "111111"},
                         headers=h.tokens["kiosk"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_appointment"
    r = await h.api.post("/api/v1/appointments/check-in", json={"code": code}, headers=h.tokens["kiosk"])
    assert r.status_code == 201 and r.json()["channel"] == "kiosk"

    bid = (await book(h, openid="o-wx", start="11:00", headers={"x-test-openid": "o-wx"})).json()["id"]
    r = await h.api.post(f"/api/v1/appointments/{bid}/check-in", headers={"x-test-openid": "o-thief"})
    assert r.status_code == 403
    r = await h.api.post(f"/api/v1/appointments/{bid}/check-in", headers={"x-test-openid": "o-wx"})
    assert r.status_code == 201 and r.json()["channel"] == "wechat"


async def test_check_in_only_on_the_day_and_before_the_slot_ends(h):
    tomorrow = (await book(h, openid="o-t", day="2026-11-17", start="11:00")).json()["id"]
    r = await h.api.post(f"/api/v1/appointments/{tomorrow}/check-in", headers=h.tokens["desk"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_today"
    late = (await book(h, openid="o-l", start="10:30")).json()["id"]
    h.clock.advance(60 * 60)  # 11:00: the 10:30 slot is over
    r = await h.api.post(f"/api/v1/appointments/{late}/check-in", headers=h.tokens["desk"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "too_late"


async def test_no_shows_limit_future_bookings(make_hall, clock):
    h = await make_hall(adapters=APPT, extra="\n[appointments]\nno_show_limit = 2\n")
    rt = h.daemon.runtime
    for day in ("2026-11-17", "2026-11-18"):
        assert (await book(h, openid="o-flaky", day=day, start="11:00")).status_code == 201
    assert (await book(h, openid="o-good", day="2026-11-17", start="11:00")).status_code == 201
    clock.advance(86400)  # Tuesday: o-good checks in, o-flaky does not come
    good = next(b for b in h.book.bookings.values() if b.openid == "o-good")
    r = await h.api.post(f"/api/v1/appointments/{good.id}/check-in", headers=h.tokens["desk"])
    assert r.status_code == 201
    clock.advance(86400)  # Wednesday: the first command of the day settles Tuesday
    await h.api.post("/api/v1/tickets", json={"business": "B"}, headers=h.tokens["kiosk"])
    for _ in range(300):  # the settling command runs after the ticket's commit
        if any(b.status == "no_show" for b in h.book.bookings.values()):
            break
        await asyncio.sleep(0.01)
    rows = await rt.journal.fetchall("SELECT openid, day, status FROM appointments ORDER BY day, openid")
    assert [tuple(r) for r in rows] == [("o-flaky", "2026-11-17", "no_show"), ("o-good", "2026-11-17", "booked"),
                                        ("o-flaky", "2026-11-18", "booked")]
    # One recorded no-show plus today's booking still open: not yet at the limit of 2.
    assert (await book(h, openid="o-flaky", day="2026-11-19", start="11:00")).status_code == 201
    clock.advance(86400)  # Thursday: Wednesday's booking is a second no-show (counted even before it is settled)
    r = await book(h, openid="o-flaky", day="2026-11-20", start="11:00")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_show_limit"
    assert "失约2次" in r.json()["error"]["message"]
    assert (await book(h, openid="o-good", day="2026-11-20", start="11:00")).status_code == 201


async def test_bookings_survive_a_restart(make_hall, clock, tmp_path):
    h = await make_hall(adapters=APPT, name="restart")
    b1 = (await book(h, openid="o-1", day="2026-11-17", start="11:00")).json()
    b2 = (await book(h, openid="o-2", start="10:30")).json()
    await h.api.post(f"/api/v1/appointments/{b2['id']}/check-in", headers=h.tokens["desk"])
    await h.daemon.stop()
    h2 = await make_hall(adapters=APPT, name="restart")
    assert h2.book.bookings[b1["id"]].status == "booked"
    assert h2.book.bookings[b2["id"]].status == "checked_in"
    assert h2.book.seats[("A", "2026-11-17", 660)] == 1
    r = await book(h2, openid="o-1", day="2026-11-17", start="14:00")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_booked"


async def test_staff_list_a_day_with_the_holders(h):
    await book(h, openid="o-a", start="11:00")
    await book(h, openid="o-b", start="14:00")
    r = await h.api.get("/api/v1/appointments", params={"day": DAY}, headers=h.tokens["supervisor"])
    assert r.status_code == 200
    assert [(a["start"], a["openid"], a["status"]) for a in r.json()["appointments"]] == [
        ("11:00", "o-a", "booked"), ("14:00", "o-b", "booked")]
    r = await h.api.get("/api/v1/appointments", params={"day": DAY}, headers=h.tokens["clerk1"])
    assert r.status_code == 200 and all("openid" not in a for a in r.json()["appointments"])
    assert (await h.api.get("/api/v1/appointments")).status_code == 401
