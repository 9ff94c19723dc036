"""The supervisor's live hall (/api/v1/hall/live and /admin/live): today's issued, served, average
wait and service, 弃号率 and saturation; each window's state with its pause reason; and the
supervisor's actions — pause/resume a window, send a ticket to a window (特呼), cancel a ticket —
through the same API as everyone's, refused outside the supervisor's right and changing nothing
when refused."""

from __future__ import annotations

from tests.evaluator_admin.test_admin_pages import _sign_in
from tests.security.inputs_hall import fingerprint


def err(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


async def issue(hall, tokens, business: str) -> dict:
    r = await hall.client.post("/api/v1/tickets", json={"business": business}, headers=tokens["kiosk"])
    assert r.status_code == 201, r.text
    return r.json()


async def live(hall, tokens) -> dict:
    r = await hall.client.get("/api/v1/hall/live", headers=tokens["supervisor"])
    assert r.status_code == 200, r.text
    return r.json()


async def test_todays_figures(hall, tokens):
    c, c1, c2 = hall.client, tokens["clerk1"], tokens["clerk2"]
    for b in ("A", "A", "A", "B"):
        await issue(hall, tokens, b)
    d = (await live(hall, tokens))["today"]
    assert (d["issued"], d["served"], d["avg_wait_s"], d["avg_service_s"], d["abandon_rate"]) == (4, 0, None, None, 0)
    assert (d["windows_open"], d["saturation"]) == (0, None)  # no window open yet: no ratio to show
    hall.clock.advance(120)
    assert (await c.post("/api/v1/windows/1/call-next", headers=c1)).json()["ticket"]["number"] == "A001"
    assert (await c.post("/api/v1/windows/2/call-next", headers=c2)).json()["ticket"]["number"] == "B001"
    hall.clock.advance(60)
    assert (await c.post("/api/v1/windows/2/skip", headers=c2)).status_code == 200  # B001: 过号
    hall.clock.advance(120)
    assert (await c.post("/api/v1/windows/1/finish", headers=c1)).status_code == 200  # A001: 180 s
    assert (await c.post("/api/v1/windows/1/call-next", headers=c1)).json()["ticket"]["number"] == "A002"
    d = (await live(hall, tokens))["today"]
    # waits: A001 and B001 120 s, A002 300 s → 180 s; one case served in 180 s; B001 of 4 abandoned
    assert (d["issued"], d["served"], d["skipped"], d["avg_wait_s"], d["avg_service_s"]) == (4, 1, 1, 180, 180)
    assert d["abandon_rate"] == 0.25
    assert (d["windows_busy"], d["windows_open"], d["saturation"]) == (1, 2, 0.5)  # window 1 calls, 2 idle
    await _sign_in(hall, tokens["supervisor"])
    part = (await c.get("/admin/live")).text
    for shown in ("今日取号", ">4<", "今日办结", ">1<", "3分00秒", "25.0%", "过号未办 1 个", "50.0%",
                  "忙 1 / 开 2"):
        assert shown in part, shown


async def test_supervisor_actions_go_through_the_api_and_refusals_change_nothing(hall, tokens):
    c, sup, c1 = hall.client, tokens["supervisor"], tokens["clerk1"]
    tickets = [await issue(hall, tokens, "A") for _ in range(3)]
    assert (await c.post("/api/v1/windows/1/call-next", headers=c1)).status_code == 200  # window 1 calls A001
    before = await fingerprint(hall.daemon)
    # Refused: what the supervisor's right does not cover, and actions that do not fit the window.
    for action in ("call-next", "finish", "skip", "recall", "start", "close", "sign-out", "transfer", "park"):
        err(await c.post(f"/api/v1/windows/2/{action}", json={}, headers=sup), 403, "forbidden")
    err(await c.post("/api/v1/windows/1/pause", json={}, headers=sup), 409, "invalid_state")  # it is calling
    err(await c.post("/api/v1/windows/2/pause", json={"reason": "睡觉"}, headers=sup), 422, "invalid_request")
    err(await c.post("/api/v1/windows/3/call", json={"number": "A002"}, headers=sup), 409, "not_this_window")
    err(await c.post("/api/v1/windows/9/pause", json={}, headers=sup), 404, "unknown_window")
    err(await c.post("/api/v1/windows/2/pause", json={}, headers=tokens["kiosk"]), 403, "forbidden")
    err(await c.request("DELETE", f"/api/v1/tickets/{tickets[0]['id']}", json={}, headers=sup), 409, "invalid_state")
    assert await fingerprint(hall.daemon) == before

    # Pause window 2 with a reason: the live hall shows it, with the reason.
    r = await c.post("/api/v1/windows/2/pause", json={"reason": "会议"}, headers=sup)
    assert r.status_code == 200 and r.json()["window"]["state"] == "paused", r.text
    w2 = next(w for w in (await live(hall, tokens))["windows"] if w["window"] == "2")
    assert (w2["state"], w2["state_text"], w2["pause_reason"], w2["clerk"]) == ("paused", "暂停服务", "会议", None)
    err(await c.post("/api/v1/windows/2/call", json={"number": "A002"}, headers=sup), 409, "invalid_state")
    assert (await c.post("/api/v1/windows/2/resume", headers=sup)).json()["window"]["state"] == "idle"
    # Send A003 to window 2: it is called there now, ahead of A002.
    r = await c.post("/api/v1/windows/2/call", json={"number": "A003"}, headers=sup)
    assert r.status_code == 200 and r.json()["ticket"]["number"] == "A003", r.text
    w2 = next(w for w in (await live(hall, tokens))["windows"] if w["window"] == "2")
    assert (w2["state"], w2["ticket"]) == ("calling", "A003")
    # Cancel A002: gone from the waiting list, reason 'admin' (staff) as the spec names it.
    r = await c.request("DELETE", f"/api/v1/tickets/{tickets[1]['id']}", headers=sup)
    assert r.status_code == 200 and (r.json()["status"], r.json()["cancel_reason"]) == ("cancelled", "admin")
    assert [t["number"] for t in (await live(hall, tokens))["waiting"]] == []


async def test_the_pages_cookie_acts_only_from_the_halls_own_pages(hall, tokens):
    c = hall.client
    await issue(hall, tokens, "A")
    await _sign_in(hall, tokens["supervisor"])
    before = await fingerprint(hall.daemon)
    r = await c.post("/api/v1/windows/2/pause", json={}, headers={"Origin": "http://evil.example"})
    err(r, 403, "forbidden")
    r = await c.post("/api/v1/windows/2/pause", content="{}", headers={"Content-Type": "text/plain"})
    assert r.status_code in (403, 415, 422), r.text
    assert await fingerprint(hall.daemon) == before
    r = await c.post("/api/v1/windows/2/pause", json={"reason": "就餐"})  # the page's own origin (PAGE_ORIGIN)
    assert r.status_code == 200 and r.json()["window"]["pause_reason"] == "就餐", r.text
    await c.post("/admin/logout")
    assert (await c.get("/admin/live")).status_code == 401
