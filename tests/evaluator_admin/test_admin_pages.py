"""/admin sign-in (cookie), the live hall, the review dashboard and the public results page."""

from __future__ import annotations

import sqlite3

from evaluator.admin_session import COOKIE
from tests.evaluator_admin.conftest import at


def _token(headers: dict) -> str:
    return headers["Authorization"].split()[1]


async def _sign_in(hall, headers, next_url: str = "/admin"):
    return await hall.client.post("/admin/login", data={"token": _token(headers), "next": next_url})


async def test_sign_in_sets_a_strict_httponly_cookie_that_the_api_accepts(hall, tokens):
    r = await hall.client.get("/admin/reviews")
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?next=/admin/reviews"
    r = await _sign_in(hall, tokens["supervisor"], "/admin/reviews")
    assert r.status_code == 303 and r.headers["location"] == "/admin/reviews"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=") and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = await hall.client.get("/admin")
    assert page.status_code == 200 and "实时大厅" in page.text and "窗口状态" in page.text
    # The cookie works on the API for the reports; Bearer still comes first.
    assert (await hall.client.get("/api/v1/reports/followups")).status_code == 200
    assert (await hall.client.get("/api/v1/reports/reviews?from=2026-09-18&to=2026-09-18&format=csv")).status_code == 200
    r = await hall.client.get("/api/v1/followups", headers=tokens["kiosk"])
    assert r.status_code == 403  # a Bearer token is judged on its own, cookie or not
    # Logout ends it.
    r = await hall.client.post("/admin/logout")
    assert r.status_code == 303 and COOKIE in r.headers["set-cookie"]
    hall.client.cookies.clear()
    assert (await hall.client.get("/admin")).status_code == 303
    assert (await hall.client.get("/api/v1/followups")).status_code == 401


async def test_only_supervisor_and_admin_tokens_sign_in(hall, tokens):
    for who in ("kiosk", "clerk1"):
        r = await _sign_in(hall, tokens[who])
        assert r.status_code == 403 and "不能登录管理后台" in r.text and "set-cookie" not in r.headers
    r = await hall.client.post("/admin/login", data={"token": "qd_nonsense"})
    assert r.status_code == 401 and "令牌无效" in r.text
    assert (await _sign_in(hall, tokens["admin"])).status_code == 303
    # An open redirect is not possible.
    r = await hall.client.post("/admin/login", data={"token": _token(tokens["admin"]), "next": "//evil.example/x"})
    assert r.headers["location"] == "/admin"


async def test_a_forged_expired_or_revoked_session_is_refused(hall, tokens):
    await _sign_in(hall, tokens["supervisor"])
    good = hall.client.cookies[COOKIE]
    body, mac = good.split(".")
    hall.client.cookies.clear()
    hall.client.cookies[COOKIE] = body + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB")
    assert (await hall.client.get("/admin")).status_code == 303
    hall.client.cookies[COOKIE] = good
    assert (await hall.client.get("/admin")).status_code == 200
    hall.clock.advance(13 * 3600)
    assert (await hall.client.get("/admin")).status_code == 303
    hall.clock.advance(-13 * 3600)
    with sqlite3.connect(hall.db) as conn:
        conn.execute("UPDATE tokens SET revoked=1 WHERE role='supervisor'")
    conn.close()
    assert (await hall.client.get("/admin")).status_code == 303
    # Sessions survive a restart (the secret is in the database).
    await _sign_in(hall, tokens["admin"])
    await hall.restart()
    assert (await hall.client.get("/admin")).status_code == 303  # a new client has no cookie…
    await _sign_in(hall, tokens["admin"])
    kept = hall.client.cookies[COOKIE]
    await hall.restart()
    hall.client.cookies[COOKIE] = kept
    assert (await hall.client.get("/admin")).status_code == 200  # …but the old cookie still holds


async def test_live_hall_highlights_waits_past_yellow_and_red(hall, tokens):
    k = tokens["kiosk"]
    for business in ("A", "A", "B"):
        assert (await hall.client.post("/api/v1/tickets", json={"business": business}, headers=k)).status_code == 201
    hall.clock.advance(20 * 60)
    await hall.client.post("/api/v1/tickets", json={"business": "A"}, headers=k)
    await hall.client.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])  # calls A001
    hall.clock.advance(26 * 60)  # A002 and B001 waited 46 min (red), A003 26 min
    live = (await hall.client.get("/api/v1/hall/live", headers=tokens["supervisor"])).json()
    a = next(b for b in live["businesses"] if b["code"] == "A")
    assert (a["waiting"], a["red"], a["yellow"], a["level"]) == (2, 1, 0, "red")
    # queue_alert = 2: A's line asks for another window, B's (1 waiting) does not
    assert {b["code"]: b["open_window"] for b in live["businesses"]} == {"A": True, "B": False, "C": False}
    assert [(t["number"], t["level"]) for t in live["late"]] == [("A002", "red"), ("B001", "red")]
    w1 = next(w for w in live["windows"] if w["window"] == "1")
    assert (w1["state"], w1["ticket"], w1["clerk_name"]) == ("calling", "A001", "张三")
    hall.clock.advance(5 * 60)  # A003 now 31 min: yellow
    live = (await hall.client.get("/api/v1/hall/live", headers=tokens["admin"])).json()
    assert ("A003", "yellow") in [(t["number"], t["level"]) for t in live["late"]]
    await _sign_in(hall, tokens["supervisor"])
    page = (await hall.client.get("/admin")).text
    assert '<tr class="red"><td>A002' in page and "张三" in page and 'fetch("/admin/live"' in page
    live_part = (await hall.client.get("/admin/live")).text  # what the page refreshes itself with
    assert '<tr class="red"><td>A002' in live_part and "<html" not in live_part
    assert 'data-testid="open-window-A">建议增开窗口' in page and "open-window-B" not in page


async def test_follow_up_pages_list_and_show_an_item(hall, tokens):
    case = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(case, 1, [2], "等了很久")
    await _sign_in(hall, tokens["supervisor"])
    listing = (await hall.client.get("/admin/followups")).text
    assert f'href="/admin/followups/{case["case"]}"' in listing and "李四" in listing and "待回访" in listing
    page = await hall.client.get(f"/admin/followups/{case['case']}")
    assert page.status_code == 200 and "办事效率低" in page.text and "登记回访" in page.text and "等了很久" in page.text
    assert (await hall.client.get("/admin/followups/4242")).status_code == 404


async def _rate_at(hall, tokens, day: str, window: str, levels: list[int]):
    hall.clock.now = at(day)
    clerk = tokens["clerk1"] if window == "1" else tokens["clerk2"]
    for level in levels:
        await hall.rate(await hall.serve(tokens["kiosk"], clerk, window=window), level)


async def test_results_page_ranks_windows_by_month_and_marks_two_months_last(hall, tokens):
    await _rate_at(hall, tokens, "2026-08-20", "1", [5, 5, 4])
    await _rate_at(hall, tokens, "2026-08-20", "2", [5, 1])
    await _rate_at(hall, tokens, "2026-09-18", "1", [5, 4])
    await _rate_at(hall, tokens, "2026-09-18", "2", [2, 3, 5])
    r = await hall.client.get("/results?month=2026-09")  # public: no token
    assert r.status_code == 200
    text = r.text
    sept = text[text.index("2026年9月"):text.index("2026年8月")]
    assert "连续两月末位" in sept and "2号窗口" in sept and "66.7%" in sept
    aug = text[text.index("2026年8月"):text.index("2026年7月")]
    assert "本月末位" in aug and "连续两月末位" not in aug
    for private in ("张三", "李四", "1001", "1002"):
        assert private not in text
