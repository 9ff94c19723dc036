"""The clerk console's sign-in and session cookie, in process (real SQLite, the real app)."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from queued.auth import token_hash
from queued.clerk.session import COOKIE
from tests.support import PAGE_ORIGIN, token

CLERK = ["queued.clerk.clerk:ClerkConsole"]


@pytest.fixture
async def hall(make_daemon):
    return await make_daemon(adapters=CLERK)


def client(d) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                             headers=PAGE_ORIGIN)


async def pin_login(c, clerk="1001", pin="1001", window="1"):
    return await c.post("/clerk/login", json={"clerk": clerk, "pin": pin, "window": window})


async def test_pin_sign_in_sets_a_strict_httponly_cookie_and_signs_the_clerk_in(hall):
    async with client(hall) as c:
        r = await pin_login(c)
        assert r.status_code == 200 and r.json()["clerk_name"] == "张三"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        w = (await c.get("/api/v1/windows/1")).json()
        assert w["clerk"] == "1001"
        page = await c.get("/clerk")
        assert "1号窗口 · 张三" in page.text and "<kbd>F1</kbd>呼叫" in page.text
        # The cookie acts on its own window only.
        assert (await c.post("/api/v1/windows/2/call-next")).status_code == 403
        r = await c.post("/api/v1/windows/1/start")
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"


async def test_wrong_pin_changes_nothing_and_five_lock_the_clerk_out(hall, clock):
    async with client(hall) as c:
        r = await pin_login(c, pin="0000")
        assert r.status_code == 401 and r.json()["error"]["message"].startswith("工号或密码错误")
        assert COOKIE not in r.headers.get("set-cookie", "")
        assert hall.runtime.engine.windows["1"].clerk is None
        for _ in range(4):
            await pin_login(c, pin="0000")
        r = await pin_login(c)  # the right PIN, but locked now
        assert r.status_code == 429 and "分钟后再试" in r.json()["error"]["message"]
        assert hall.runtime.engine.windows["1"].clerk is None
        clock.advance(301)
        assert (await pin_login(c)).status_code == 200


async def test_unknown_window_and_clerk_without_pin_are_refused(hall):
    async with client(hall) as c:
        assert (await pin_login(c, window="9")).json()["error"]["code"] == "unknown_window"
        assert (await pin_login(c, clerk="9999", pin="")).status_code == 401
        r = await c.post("/clerk/login", json={"clerk": "1001", "pin": 1001, "window": "1"})
        assert r.status_code == 422


async def test_a_tampered_cookie_is_no_session(hall):
    async with client(hall) as c:
        await pin_login(c)
        value = c.cookies[COOKIE]
        body, _, mac = value.partition(".")
        c.cookies.set(COOKIE, body.replace(body[3], "A" if body[3] != "A" else "B") + "." + mac)
        assert (await c.get("/api/v1/windows/1")).status_code == 401
        assert "工号登录" in (await c.get("/clerk")).text


async def test_another_clerk_signing_in_ends_the_first_session(hall):
    async with client(hall) as first, client(hall) as second:
        await pin_login(first)
        assert (await first.get("/api/v1/windows/1")).status_code == 200
        await pin_login(second, clerk="1002", pin="1002")
        assert (await first.get("/api/v1/windows/1")).status_code == 401
        assert (await second.get("/api/v1/windows/1")).json()["clerk"] == "1002"


async def test_token_sign_in_kiosk_refused_and_revocation_ends_it(hall):
    db = hall.config.database
    async with client(hall) as c:
        r = await c.post("/clerk/login", json={"token": token(db, "kiosk")})
        assert r.status_code == 403
        assert (await c.post("/clerk/login", json={"token": "qd_nonsense"})).status_code == 401
        t = token(db, "clerk", "2", "1002")
        r = await c.post("/clerk/login", json={"token": t})
        assert r.status_code == 200 and r.json()["window"] == "2"
        assert hall.runtime.engine.windows["2"].clerk == "1002"
        assert (await c.get("/api/v1/windows/2")).status_code == 200
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE tokens SET revoked=1 WHERE hash=?", (token_hash(t),))
        conn.close()
        book = hall.app.state.tokens
        later = book.clock() + 10.5
        book.clock = lambda: later  # the token book keeps an answer at most 10 s, for cookies as for Bearer
        assert (await c.get("/api/v1/windows/2")).status_code == 401


async def test_bearer_comes_before_the_cookie(hall):
    async with client(hall) as c:
        await pin_login(c)
        r = await c.get("/api/v1/windows/1", headers={"Authorization": "Bearer qd_bad"})
        assert r.status_code == 401


async def test_logout_signs_the_clerk_out(hall):
    async with client(hall) as c:
        await pin_login(c)
        r = await c.post("/clerk/logout", json={})
        assert r.status_code == 200 and COOKIE in r.headers["set-cookie"]
        assert hall.runtime.engine.windows["1"].clerk is None
        assert (await c.get("/api/v1/windows/1")).status_code == 401


async def test_session_survives_a_restart(make_daemon):
    d1 = await make_daemon(adapters=CLERK, name="same")
    async with client(d1) as c:
        await pin_login(c)
        cookie = c.cookies[COOKIE]
    await d1.stop()
    d2 = await make_daemon(adapters=CLERK, name="same")
    async with client(d2) as c:
        c.cookies.set(COOKIE, cookie)
        w = await c.get("/api/v1/windows/1")
        assert w.status_code == 200 and w.json()["clerk"] == "1001"


async def test_last_case_shows_the_evaluators_rating(make_daemon):
    d = await make_daemon(adapters=["evaluator.service:EvaluatorAdapter", *CLERK])
    kiosk = {"Authorization": f"Bearer {token(d.config.database, 'kiosk')}"}
    async with client(d) as c:
        await pin_login(c)
        assert (await c.get("/clerk/api/last-case")).json() == {"case": None}
        ticket = (await c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)).json()
        await c.post("/api/v1/windows/1/call-next")
        fin = (await c.post("/api/v1/windows/1/finish")).json()["finished"]
        case = (await c.get("/clerk/api/last-case")).json()["case"]
        assert (case["number"], case["case"], case["state"]) == ("A001", fin["case"], "open")
        assert case["text"] == "等待群众评价"
        # The console's session is staff: it never rates, even with the citizen's key.
        body = {"ticket": ticket["id"], "key": ticket["rating_key"], "level": 1, "reasons": [1]}
        r = await c.post("/api/v1/ratings", json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as phone:
            r = await phone.post("/api/v1/ratings", json=body)  # the citizen's phone
        assert r.status_code == 201, r.text
        case = (await c.get("/clerk/api/last-case")).json()["case"]
        assert (case["state"], case["level"], case["bad"]) == ("rated", 1, True)
        assert case["text"] == "已评价：非常不满意" and case["reasons"] == ["服务态度差"]
