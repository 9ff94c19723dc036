"""Sessions are server-side records: signing out (or revoking the token a session came from) ends
them for good, a cookie cannot be minted from the database file, the kiosk's cookie is not its
token, sessions survive a restart and expire as before, and cookies are Secure behind https.
In process: the real app on real SQLite, the fake WeChat server for /m."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import httpx
import pytest

from queued.auth import revoke_token, token_hash
from tests.support import hall_toml, token
from tests.wechat.conftest import wechat_toml
from tests.wechat.fake_wechat import FakeWeChat
from tests.wechat.test_oauth import sign_in as wechat_sign_in

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter",
            "queued.clerk.clerk:ClerkConsole", "queued.channels.kiosk:Kiosk", "queued.channels.mobile:WeChatMobile"]
COOKIES = {"admin": "queued_admin", "clerk": "queued_clerk", "m": "qm_session", "kiosk": "queued_kiosk"}


class Mono:
    """The token cache's clock (time.monotonic in the daemon): moved by hand here."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Hall:
    """One SQLite file; start, stop and restart a daemon on it; clients that behave like the
    hall's own pages (same Origin)."""

    def __init__(self, tmp_path: Path, clock, fake: FakeWeChat, public_url: str = ""):
        self.db = str(tmp_path / "hall.sqlite3")
        self.clock = clock
        self.fake = fake
        self.public_url = public_url
        self.daemon = None
        self.mono = Mono()
        self.clients: list[httpx.AsyncClient] = []

    def config_text(self) -> str:
        return hall_toml(self.db, extra=wechat_toml(self.fake), public_url=self.public_url or None)

    async def start(self) -> Hall:
        from queued.config import parse_config
        from queued.daemon import Daemon

        self.daemon = Daemon(parse_config(self.config_text(), source="test"), clock=self.clock, adapters=ADAPTERS)
        await self.daemon.start()
        self.daemon.app.state.tokens.clock = self.mono
        return self

    async def stop(self) -> None:
        for c in self.clients:
            await c.aclose()
        self.clients.clear()
        if self.daemon is not None:
            await self.daemon.stop()
            self.daemon = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def client(self) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.daemon.app), base_url="http://hall",
                              headers={"Origin": "http://hall"})
        self.clients.append(c)
        return c


@pytest.fixture
async def hall(tmp_path, clock, fake_wechat):
    h = await Hall(tmp_path, clock, fake_wechat).start()
    yield h
    await h.stop()


# ---- signing in, as each page does ---------------------------------------------------------------

async def admin_in(c, t: str) -> httpx.Response:
    r = await c.post("/admin/login", data={"token": t, "next": "/admin"})
    assert r.status_code == 303 and r.headers["location"] == "/admin", r.text
    return r


async def admin_ok(c) -> bool:
    r = await c.get("/admin")
    return r.status_code == 200 and "实时大厅" in r.text


async def clerk_in(c, clerk="1001", pin="1001", window="1") -> httpx.Response:
    r = await c.post("/clerk/login", json={"clerk": clerk, "pin": pin, "window": window})
    assert r.status_code == 200, r.text
    return r


async def clerk_ok(c, window="1") -> bool:
    return (await c.get(f"/api/v1/windows/{window}")).status_code == 200


async def kiosk_in(c, t: str) -> httpx.Response:
    r = await c.get("/kiosk", params={"token": t})
    assert r.status_code == 303, r.text
    return r


async def kiosk_ok(c) -> bool:
    r = await c.get("/kiosk")
    return r.status_code == 200 and 'data-testid="business-A"' in r.text


async def m_ok(c) -> bool:
    return (await c.get("/m/api/mine")).status_code == 200


def with_cookie(hall: Hall, name: str, value: str) -> httpx.AsyncClient:
    """A fresh client holding only a captured cookie (the thief's)."""
    c = hall.client()
    c.cookies.set(name, value)
    return c


# ---- sign-out ------------------------------------------------------------------------------------

async def test_signing_out_of_admin_refuses_a_cookie_captured_before(hall):
    c = hall.client()
    await admin_in(c, token(hall.db, "supervisor"))
    captured = c.cookies[COOKIES["admin"]]
    assert await admin_ok(c)
    r = await c.post("/admin/logout")
    assert r.status_code == 303
    thief = with_cookie(hall, COOKIES["admin"], captured)
    r = await thief.get("/admin")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    assert (await thief.get("/api/v1/followups")).status_code == 401
    assert (await thief.get("/api/v1/hall/live")).status_code == 401


async def test_signing_out_of_the_clerk_console_refuses_a_captured_cookie_even_after_signing_in_again(hall):
    c = hall.client()
    await clerk_in(c)
    captured = c.cookies[COOKIES["clerk"]]
    assert (await c.post("/clerk/logout", json={})).status_code == 200
    thief = with_cookie(hall, COOKIES["clerk"], captured)
    assert not await clerk_ok(thief)
    # The same clerk signs in again at the same window: the old cookie stays dead.
    await clerk_in(hall.client())
    assert hall.daemon.runtime.engine.windows["1"].clerk == "1001"
    assert not await clerk_ok(thief)
    r = await thief.post("/api/v1/windows/1/pause", json={})
    assert r.status_code == 401 and hall.daemon.runtime.engine.windows["1"].state != "paused"
    # A token sign-in too.
    c2 = hall.client()
    r = await c2.post("/clerk/login", json={"token": token(hall.db, "clerk", "2", "1002")})
    assert r.status_code == 200
    captured = c2.cookies[COOKIES["clerk"]]
    await c2.post("/clerk/logout", json={})
    assert not await clerk_ok(with_cookie(hall, COOKIES["clerk"], captured), "2")


async def test_signing_out_of_m_refuses_a_captured_cookie(hall):
    c = hall.client()
    r = await wechat_sign_in(c, hall.fake, "oAlice_x8Yq2")
    assert r.status_code == 303
    captured = c.cookies[COOKIES["m"]]
    assert await m_ok(c)
    r = await c.post("/m/logout")
    assert r.status_code == 303
    thief = with_cookie(hall, COOKIES["m"], captured)
    assert not await m_ok(thief)
    r = await thief.post("/api/v1/tickets", json={"business": "A"})
    assert r.status_code == 401 and not hall.daemon.runtime.engine.tickets


# ---- revocation ----------------------------------------------------------------------------------

async def test_revoking_a_token_ends_its_admin_clerk_and_kiosk_sessions_within_ten_seconds(hall):
    sup, clerk, kiosk = token(hall.db, "supervisor"), token(hall.db, "clerk", "2", "1002"), token(hall.db, "kiosk")
    a, k, q = hall.client(), hall.client(), hall.client()
    await admin_in(a, sup)
    assert (await k.post("/clerk/login", json={"token": clerk})).status_code == 200
    await kiosk_in(q, kiosk)
    assert await admin_ok(a) and await clerk_ok(k, "2") and await kiosk_ok(q)
    # The kiosk's cookie is a session id: neither the token nor its hash.
    value = q.cookies[COOKIES["kiosk"]]
    assert kiosk not in value and token_hash(kiosk) not in value and kiosk[3:] not in value
    for t in (sup, clerk, kiosk):
        assert revoke_token(hall.db, t) == 1  # what `queued token revoke` does, from another process
    hall.mono.now += 10.5  # the daemon's token cache holds an answer at most 10 s
    assert not await admin_ok(a)
    assert not await clerk_ok(k, "2")
    assert not await kiosk_ok(q)
    r = await q.post("/kiosk/take", data={"business": "A"})
    assert r.status_code == 303 and not hall.daemon.runtime.engine.tickets
    # …and for good: the sessions are gone from the server, not only refused for now.
    assert await hall.daemon.runtime.journal.fetchall("SELECT kind FROM sessions") == []


# ---- the database file alone ---------------------------------------------------------------------

def _old_style_cookies(db_copy: str) -> list[tuple[str, str]]:
    """Every cookie the old scheme would accept, minted from what the database holds: each value of
    `meta` as an HMAC secret, over each token hash, window, clerk and openid."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    conn = sqlite3.connect(db_copy)
    try:
        secrets_ = [bytes.fromhex(v) for (v,) in conn.execute("SELECT value FROM meta")
                    if isinstance(v, str) and len(v) >= 32 and all(ch in "0123456789abcdef" for ch in v)]
        hashes = [h for (h,) in conn.execute("SELECT hash FROM tokens")]
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows = list(conn.execute("SELECT * FROM sessions")) if "sessions" in tables else []
    finally:
        conn.close()
    payloads = [("admin", {"h": h}) for h in hashes]
    payloads += [("clerk", {"w": "1", "c": "1001", "t": None}), ("m", {"o": "oAlice_x8Yq2"})]
    out = []
    for secret in secrets_:
        for kind, payload in payloads:
            body = b64(json.dumps({**payload, "exp": 4102444800, "n": "00000000"}, separators=(",", ":")).encode())
            out.append((kind, f"{body}.{b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"))
    for row in rows:  # whatever the sessions table keeps, tried as a cookie value
        for v in row:
            if isinstance(v, str):
                out += [(kind, v) for kind in COOKIES]
    return out


async def test_a_cookie_forged_from_the_database_file_alone_is_refused(hall, tmp_path):
    await admin_in(hall.client(), token(hall.db, "admin"))
    await clerk_in(hall.client())
    await wechat_sign_in(hall.client(), hall.fake, "oAlice_x8Yq2")
    await hall.daemon.runtime.journal.fetchone("PRAGMA wal_checkpoint(PASSIVE)")
    copy = str(tmp_path / "stolen.sqlite3")
    shutil.copy(hall.db, copy)
    for suffix in ("-wal", "-shm"):
        if Path(hall.db + suffix).exists():
            shutil.copy(hall.db + suffix, copy + suffix)
    forged = _old_style_cookies(copy)
    assert forged  # there is something to try
    checks = {"admin": admin_ok, "clerk": clerk_ok, "m": m_ok, "kiosk": kiosk_ok}
    for kind, value in forged:
        assert not await checks[kind](with_cookie(hall, COOKIES[kind], value)), (kind, value)
    # The secret the cookies are signed with is a 0600 file beside the database, not in it.
    secret = Path(hall.db + ".secret")
    assert secret.is_file() and stat.S_IMODE(secret.stat().st_mode) == 0o600
    raw = secret.read_bytes().strip()
    assert len(raw) >= 32
    for f in [copy, copy + "-wal"]:
        if Path(f).exists():
            assert raw not in Path(f).read_bytes()


# ---- restart, expiry, Secure ---------------------------------------------------------------------

async def test_sessions_survive_a_restart_and_expire_as_before(hall):
    a, k, m, q = hall.client(), hall.client(), hall.client(), hall.client()
    await admin_in(a, token(hall.db, "admin"))
    await clerk_in(k)
    await wechat_sign_in(m, hall.fake, "oBob_3kd9")
    await kiosk_in(q, token(hall.db, "kiosk"))
    kept = {name: c.cookies[COOKIES[name]] for name, c in (("admin", a), ("clerk", k), ("m", m), ("kiosk", q))}
    await hall.restart()
    fresh = {name: with_cookie(hall, COOKIES[name], v) for name, v in kept.items()}
    assert await admin_ok(fresh["admin"]) and await clerk_ok(fresh["clerk"])
    assert await m_ok(fresh["m"]) and await kiosk_ok(fresh["kiosk"])
    # A sign-out after the restart still ends the session for good.
    await fresh["admin"].post("/admin/logout")
    assert not await admin_ok(with_cookie(hall, COOKIES["admin"], kept["admin"]))
    hall.clock.advance(12 * 3600 + 60)  # past the 12 h of /clerk (and /admin)
    again = {name: with_cookie(hall, COOKIES[name], v) for name, v in kept.items()}
    assert not await clerk_ok(again["clerk"])
    assert await m_ok(again["m"]) and await kiosk_ok(again["kiosk"])
    hall.clock.advance(30 * 86400)  # past the 30 days of /m
    assert not await m_ok(with_cookie(hall, COOKIES["m"], kept["m"]))
    assert await kiosk_ok(with_cookie(hall, COOKIES["kiosk"], kept["kiosk"]))


async def test_session_cookies_are_secure_when_public_url_is_https(tmp_path, clock, fake_wechat):
    h = await Hall(tmp_path, clock, fake_wechat, public_url="https://hall.example.gov.cn").start()
    try:
        # The daemon itself is reached over plain http (TLS ends at the proxy in front of it).
        def secure(r: httpx.Response, name: str) -> bool:
            cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(name + "=")]
            assert cookie, r.headers
            return "secure" in cookie[0].lower().replace(" ", "").split(";")

        async def page_client():
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=h.daemon.app), base_url="http://hall",
                                     headers={"Origin": "https://hall.example.gov.cn"})

        async with await page_client() as c:
            assert secure(await admin_in(c, token(h.db, "admin")), COOKIES["admin"])
            assert secure(await clerk_in(c), COOKIES["clerk"])
            assert secure(await kiosk_in(c, token(h.db, "kiosk")), COOKIES["kiosk"])
        async with await page_client() as c:
            h.fake.next_openid = "oCarol"
            r = await c.get("/m")
            state = r.cookies["qm_oauth"]  # Secure too: an http client would not send it back by itself
            async with httpx.AsyncClient() as phone:
                consent = await phone.get(r.headers["location"].split("#")[0])
            back = consent.headers["location"].split("/m/oauth", 1)[1]
            r = await c.get("/m/oauth" + back, headers={"Cookie": f"qm_oauth={state}"})
            assert r.status_code == 303, r.text
            assert secure(r, COOKIES["m"])
    finally:
        await h.stop()
