"""Cross-site requests (http-api.md 1.1, Auth): a state-changing request that a cookie
authenticates must show a same-origin Origin (or, without one, Referer); another port of the same
host is another origin; the sign-in forms are protected too; JSON only as application/json;
Bearer requests are judged by their token alone. In process: the real app on real SQLite."""

from __future__ import annotations

import httpx
import pytest

from tests.support import hall_toml, token
from tests.wechat.conftest import wechat_toml
from tests.wechat.test_oauth import sign_in as wechat_sign_in

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter",
            "queued.clerk.clerk:ClerkConsole", "queued.channels.kiosk:Kiosk", "queued.channels.mobile:WeChatMobile"]
SAME = {"Origin": "http://hall"}
CROSS = [
    {"Origin": "http://evil.example"},
    {"Origin": "http://hall:3000"},  # Grafana on the same host: same site, another origin
    {"Origin": "https://hall"},  # another scheme
    {"Origin": "null"},  # a sandboxed frame or a no-referrer page
    {"Referer": "http://hall:3000/d/queue?orgId=1"},
    {"Referer": "http://evil.example/page"},
    {},  # neither: a cookie alone proves nothing
]


@pytest.fixture
async def hall(make_daemon, fake_wechat):
    d = await make_daemon(adapters=ADAPTERS, extra=wechat_toml(fake_wechat))
    d.fake_wechat = fake_wechat
    return d


async def m_cookie(d, openid: str) -> str:
    async with client(d) as c:
        assert (await wechat_sign_in(c, d.fake_wechat, openid)).status_code == 303
        return c.cookies["qm_session"]


def client(d, headers: dict | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                             headers=headers if headers is not None else SAME)


def refused(r: httpx.Response) -> bool:
    return r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


async def clerk_cookie(d) -> str:
    async with client(d) as c:
        r = await c.post("/clerk/login", json={"clerk": "1001", "pin": "1001", "window": "1"})
        assert r.status_code == 200, r.text
        return c.cookies["queued_clerk"]


async def test_a_cross_origin_post_with_a_valid_clerk_cookie_is_refused_and_changes_nothing(hall):
    cookie = await clerk_cookie(hall)
    for headers in CROSS:
        async with client(hall, headers) as c:
            c.cookies.set("queued_clerk", cookie)
            r = await c.post("/api/v1/windows/1/pause", json={})
            assert refused(r), (headers, r.status_code, r.text)
            assert hall.runtime.engine.windows["1"].state != "paused"
            r = await c.post("/clerk/logout", json={})
            assert refused(r), headers
            assert hall.runtime.engine.windows["1"].clerk == "1001"
    async with client(hall) as c:  # the console itself (same origin) still works
        c.cookies.set("queued_clerk", cookie)
        assert (await c.post("/api/v1/windows/1/pause", json={})).status_code == 200
        assert hall.runtime.engine.windows["1"].state == "paused"
    async with client(hall, {"Referer": "http://hall/clerk"}) as c:  # Referer when Origin is missing
        c.cookies.set("queued_clerk", cookie)
        assert (await c.post("/api/v1/windows/1/resume", json={})).status_code == 200


async def test_cross_origin_posts_with_admin_kiosk_and_m_cookies_are_refused(hall):
    db = hall.config.database
    async with client(hall) as page:
        r = await page.post("/admin/login", data={"token": token(db, "admin"), "next": "/admin"})
        assert r.status_code == 303
        admin = page.cookies["queued_admin"]
        r = await page.get("/kiosk", params={"token": token(db, "kiosk")})
        assert r.status_code == 303
        kiosk = page.cookies["queued_kiosk"]
    m_value = await m_cookie(hall, "oAlice_x8Yq2")
    for headers in CROSS:
        async with client(hall, headers) as c:
            c.cookies.set("queued_admin", admin)
            assert refused(await c.post("/admin/logout")), headers
            c.cookies.clear()
            c.cookies.set("queued_kiosk", kiosk, path="/kiosk")
            r = await c.post("/kiosk/take", data={"business": "A"})
            assert r.status_code == 403, headers
            c.cookies.clear()
            c.cookies.set("qm_session", m_value)
            assert refused(await c.post("/api/v1/tickets", json={"business": "A"})), headers
    assert not hall.runtime.engine.tickets
    async with client(hall) as c:  # the admin session was not signed out by any of those
        c.cookies.set("queued_admin", admin)
        assert (await c.get("/admin")).status_code == 200


async def test_sign_in_forms_refuse_cross_origin_posts(hall):
    """Login CSRF: another site must not sign the hall's browser in under the attacker's token."""
    db = hall.config.database
    attacker_admin, attacker_kiosk = token(db, "admin"), token(db, "kiosk")
    for headers in CROSS:  # even with neither header: a sign-in form must prove where it came from
        async with client(hall, headers) as c:
            r = await c.post("/admin/login", data={"token": attacker_admin, "next": "/admin"})
            assert r.status_code == 403 and "set-cookie" not in r.headers, headers
            r = await c.post("/kiosk/login", data={"token": attacker_kiosk})
            assert r.status_code == 403 and "set-cookie" not in r.headers, headers
            r = await c.post("/clerk/login", json={"clerk": "1001", "pin": "1001", "window": "1"})
            assert r.status_code == 403 and "set-cookie" not in r.headers, headers
            r = await c.post("/m/demo-login", data={"next": "/m"})
            assert r.status_code == 403 and "set-cookie" not in r.headers, headers
    assert hall.runtime.engine.windows["1"].clerk is None


async def test_a_refused_form_post_shows_a_page_in_chinese(hall):
    async with client(hall, {"Origin": "http://evil.example", "Accept": "text/html,*/*"}) as c:
        r = await c.post("/admin/login", data={"token": "qd_x"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "请求来源不明" in r.text


async def test_json_only_as_application_json(hall):
    cookie = await clerk_cookie(hall)
    async with client(hall) as c:
        c.cookies.set("queued_clerk", cookie)
        for ctype in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                      "multipart/form-data; boundary=x", None):
            headers = {"Content-Type": ctype} if ctype else {}
            r = await c.post("/api/v1/windows/1/pause", content=b'{"reason": "\\u4f1a\\u8bae"}', headers=headers)
            assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", (ctype, r.text)
            assert hall.runtime.engine.windows["1"].state != "paused"
        r = await c.post("/api/v1/windows/1/pause", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"})
        assert r.status_code == 200
    m_value = await m_cookie(hall, "oBob")
    async with client(hall) as c:
        c.cookies.set("qm_session", m_value)
        r = await c.post("/api/v1/tickets", content=b'{"business": "A"}', headers={"Content-Type": "text/plain"})
        assert r.status_code == 415 and not hall.runtime.engine.tickets


async def test_bearer_requests_are_unaffected(hall):
    clerk = {"Authorization": f"Bearer {token(hall.config.database, 'clerk', '1', '1001')}"}
    kiosk = {"Authorization": f"Bearer {token(hall.config.database, 'kiosk')}"}
    async with client(hall, {"Origin": "http://evil.example"}) as c:
        r = await c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        assert r.status_code == 201
        # curl -d without a content type, as integration scripts do: judged by the token alone
        r = await c.post("/api/v1/tickets", content=b'{"business": "B"}', headers=kiosk)
        assert r.status_code == 201, r.text
        r = await c.post("/api/v1/windows/1/call-next", headers=clerk)
        assert r.status_code == 200 and r.json()["ticket"]["number"] == "A001"


async def test_public_url_is_the_origin_behind_a_proxy(make_daemon, tmp_path):
    from queued.config import parse_config
    from queued.daemon import Daemon

    text = hall_toml(str(tmp_path / "p.sqlite3"), public_url="https://hall.example.gov.cn")
    d = Daemon(parse_config(text, source="test"), adapters=["queued.clerk.clerk:ClerkConsole"])
    await d.start()
    try:
        login = {"clerk": "1001", "pin": "1001", "window": "1"}
        # The proxy passes its own Host (127.0.0.1:8080); the browser's Origin is the public one.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://127.0.0.1:8080",
                                     headers={"Origin": "https://hall.example.gov.cn"}) as c:
            assert (await c.post("/clerk/login", json=login)).status_code == 200
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://127.0.0.1:8080",
                                     headers={"Origin": "https://hall.example.gov.cn:8443"}) as c:
            assert refused(await c.post("/clerk/login", json=login))
    finally:
        await d.stop()
