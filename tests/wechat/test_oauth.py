"""WeChat web-page OAuth against the fake server: code → openid → signed session → tickets."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support import PAGE_ORIGIN, token
from tests.wechat.conftest import ADAPTER

DEMO_LOGIN = "\n[wechat]\ndemo_login = true\n"


async def sign_in(client: httpx.AsyncClient, fake, openid: str) -> httpx.Response:
    """What a phone does: /m → WeChat's authorize page (silent for snsapi_base) → back with a code."""
    fake.next_openid = openid
    r = await client.get("/m")
    assert r.status_code == 302
    async with httpx.AsyncClient() as phone:
        consent = await phone.get(r.headers["location"].split("#")[0])
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    assert back.netloc == "hall" and back.path == "/m/oauth"
    return await client.get(f"{back.path}?{back.query}")


async def test_m_redirects_to_wechat_authorize(client, fake_wechat):
    r = await client.get("/m")
    assert r.status_code == 302
    url = urlsplit(r.headers["location"])
    assert f"{url.scheme}://{url.netloc}" == fake_wechat.url
    assert url.path == "/connect/oauth2/authorize" and url.fragment == "wechat_redirect"
    q = parse_qs(url.query)
    assert q["appid"] == [fake_wechat.appid]
    assert q["redirect_uri"] == ["http://hall/m/oauth"]
    assert q["response_type"] == ["code"] and q["scope"] == ["snsapi_base"]
    assert len(q["state"][0]) >= 16
    # parameter order as WeChat documents it
    assert list(parse_qs(url.query)) == ["appid", "redirect_uri", "response_type", "scope", "state"]


async def test_code_exchange_signs_in_and_issues_tickets_for_that_openid(client, fake_wechat, wechat_daemon):
    r = await sign_in(client, fake_wechat, "oAlice_x8Yq2")
    assert r.status_code == 303 and r.headers["location"] == "/m"
    cookie = r.headers["set-cookie"]
    assert "qm_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    exchange = [c for c in fake_wechat.calls if c["path"] == "/sns/oauth2/access_token"][-1]
    assert exchange["params"]["grant_type"] == "authorization_code"
    assert exchange["params"]["secret"] == fake_wechat.secret and exchange["errcode"] == 0

    page = await client.get("/m")
    assert page.status_code == 200 and "远程取号" in page.text and "综合受理" in page.text
    assert "演示模式" not in page.text

    r = await client.post("/api/v1/tickets", json={"business": "A"})
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["number"] == "A001" and ticket["channel"] == "wechat"
    assert wechat_daemon.runtime.engine.tickets[ticket["id"]].openid == "oAlice_x8Yq2"

    again = await client.post("/api/v1/tickets", json={"business": "A"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_waiting"
    assert "A001" in again.json()["error"]["message"]

    other = await client.post("/api/v1/tickets", json={"business": "B"})
    assert other.status_code == 201
    mine = (await client.get("/m/api/mine")).json()["tickets"]
    assert [t["number"] for t in mine] == ["B001", "A001"]

    # someone else's openid cannot be claimed with this session
    r = await client.post("/api/v1/tickets", json={"business": "C", "openid": "oMallory"})
    assert r.status_code == 403
    # the holder cancels with the openid the page knows
    r = await client.request("DELETE", f"/api/v1/tickets/{ticket['id']}", json={"openid": "oAlice_x8Yq2"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.post("/api/v1/tickets", json={"business": "A"})).status_code == 201


async def test_invalid_code_shows_an_error_and_signs_nobody_in(client, fake_wechat):
    r = await client.get("/m")
    state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
    r = await client.get(f"/m/oauth?code=0a1b2c3d4e5f&state={state}")
    assert r.status_code == 502
    assert "微信登录失败" in r.text and "40029" in r.text
    assert "qm_session" not in r.headers.get("set-cookie", "")
    r = await client.post("/api/v1/tickets", json={"business": "A"})
    assert r.status_code == 401


async def test_a_reused_code_is_refused(client, fake_wechat):
    first = await sign_in(client, fake_wechat, "oBob_91")
    assert first.status_code == 303
    used = [c for c in fake_wechat.calls if c["path"] == "/sns/oauth2/access_token"][-1]["params"]["code"]
    client.cookies.clear()
    r = await client.get("/m")
    state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
    r = await client.get(f"/m/oauth?code={used}&state={state}")
    assert r.status_code == 502 and "40163" in r.text


async def test_state_must_match_the_one_we_sent(client, fake_wechat):
    await client.get("/m")
    code = fake_wechat.issue_code("oEve")
    r = await client.get(f"/m/oauth?code={code}&state=forged-state-value")
    assert r.status_code == 400 and "登录已过期" in r.text
    assert not [c for c in fake_wechat.calls if c["path"] == "/sns/oauth2/access_token"]


async def test_a_tampered_or_expired_session_cookie_is_no_session(client, fake_wechat, wechat_daemon, clock):
    await sign_in(client, fake_wechat, "oCarol")
    value = client.cookies["qm_session"]
    assert (await client.get("/m/api/mine")).status_code == 200
    sid, mac = value.rsplit(".", 1)
    for forged in (sid[:-1] + ("A" if sid[-1] != "A" else "B") + "." + mac, sid + "." + mac[::-1], sid, "x." + mac):
        client.cookies.clear()
        client.cookies.set("qm_session", forged)
        assert (await client.post("/api/v1/tickets", json={"business": "A"})).status_code == 401
    client.cookies.clear()
    client.cookies.set("qm_session", value)
    assert (await client.get("/m/api/mine")).status_code == 200
    clock.advance(30 * 86400 + 1)
    assert (await client.get("/m/api/mine")).status_code == 401  # expired


async def test_the_session_survives_a_restart(make_daemon, fake_wechat, tmp_path):
    from tests.wechat.conftest import wechat_toml

    d1 = await make_daemon(extra=wechat_toml(fake_wechat), adapters=[ADAPTER], name="same")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d1.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as c:
        await sign_in(c, fake_wechat, "oDan")
        value = c.cookies["qm_session"]
    await d1.stop()
    d2 = await make_daemon(extra=wechat_toml(fake_wechat), adapters=[ADAPTER], name="same")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d2.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as c:
        c.cookies.set("qm_session", value)
        assert (await c.post("/api/v1/tickets", json={"business": "A"})).status_code == 201
        assert d2.runtime.engine.tickets[next(iter(d2.runtime.engine.tickets))].openid == "oDan"


async def test_no_demo_sign_in_unless_the_file_says_so(make_daemon):
    """No appid and no `demo_login = true` (docker/hall.toml): /m says WeChat is not set up, and the
    demo sign-in gives no session (config.md 1.1)."""
    d = await make_daemon(adapters=[ADAPTER])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as c:
        r = await c.get("/m")
        assert r.status_code == 404 and "未开通微信取号" in r.text and "demo-login" not in r.text
        r = await c.post("/m/demo-login", data={"next": "/m"})
        assert r.status_code == 403 and "qm_session" not in r.headers.get("set-cookie", "")
        assert (await c.post("/api/v1/tickets", json={"business": "A"})).status_code == 401


async def test_demo_mode_where_the_file_says_demo_login(make_daemon):
    d = await make_daemon(adapters=[ADAPTER], extra=DEMO_LOGIN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as c:
        r = await c.get("/m")
        assert r.status_code == 200
        assert "演示模式" in r.text and 'data-testid="demo-login"' in r.text
        assert (await c.post("/api/v1/tickets", json={"business": "A"})).status_code == 401
        r = await c.post("/m/demo-login", data={"next": "https://evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/m"
        page = await c.get("/m")
        assert "远程取号" in page.text and "退出演示账号" in page.text
        r = await c.post("/api/v1/tickets", json={"business": "B"})
        assert r.status_code == 201
        assert d.runtime.engine.tickets[r.json()["id"]].openid.startswith("demo-")
        assert (await c.post("/api/v1/tickets", json={"business": "B"})).json()["error"]["code"] == "already_waiting"


async def test_demo_sign_in_is_off_when_wechat_is_configured(client):
    r = await client.post("/m/demo-login", data={"next": "/m"})
    assert r.status_code == 403
    assert "qm_session" not in r.headers.get("set-cookie", "")


async def test_follow_page_is_public_and_shows_the_ticket(client, wechat_daemon):
    kiosk = {"Authorization": "Bearer " + token(wechat_daemon.config.database, "kiosk")}
    t = (await client.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)).json()
    r = await client.get(f"/m/t/{t['id']}")
    assert r.status_code == 200 and "A001" in r.text and "排队进度" in r.text
    r = await client.get("/m/t/no-such-ticket")
    assert r.status_code == 404 and "没有找到这张票" in r.text


async def test_the_session_books_and_checks_in_with_the_appointment_api(make_daemon, clock):
    from queued.core.calendar import HallCalendar

    clock.now = HallCalendar("Asia/Shanghai").at("2030-01-09", 9 * 60 + 50)  # a Wednesday, 09:50
    d = await make_daemon(adapters=["queued.channels.appointments_api:Appointments", ADAPTER], extra=DEMO_LOGIN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as c:
        assert (await c.post("/api/v1/appointments", json={"business": "A", "day": "2030-01-09",
                                                           "start": "10:00"})).status_code == 401
        await c.post("/m/demo-login", data={"next": "/m"})
        page = await c.get("/m")
        assert 'id="booking"' in page.text
        r = await c.post("/api/v1/appointments", json={"business": "A", "day": "2030-01-09", "start": "10:00"})
        assert r.status_code == 201, r.text
        booking = r.json()
        mine = (await c.get("/api/v1/appointments")).json()["appointments"]
        assert [b["id"] for b in mine] == [booking["id"]]
        r = await c.post(f"/api/v1/appointments/{booking['id']}/check-in")
        assert r.status_code == 201, r.text
        ticket = r.json()
        assert ticket["channel"] == "wechat" and ticket["status"] == "waiting"
        assert [t["id"] for t in (await c.get("/m/api/mine")).json()["tickets"]] == [ticket["id"]]
