"""Helpers of the trust-inputs tests: a full in-process hall (every adapter), a client on it, the
journal's fingerprint (to show a refused request changed nothing) and a served case."""

from __future__ import annotations

import contextlib

import httpx

from queued.daemon import ADAPTERS
from tests.support import PAGE_ORIGIN, token

DEMO_LOGIN = "\n[wechat]\ndemo_login = true\n"


async def full_hall(make_daemon, extra: str = DEMO_LOGIN, name: str = "hall", **kw):
    """Every adapter of the daemon, on the test hall, with the WeChat demo sign-in on."""
    return await make_daemon(extra=extra, adapters=ADAPTERS, name=name, **kw)


@contextlib.asynccontextmanager
async def client(d, address: str = "10.0.0.7"):
    """An httpx client on the daemon's app, as a phone at `address` on the hall LAN (on the hall's
    own pages: it sends their Origin, as browsers do with every POST)."""
    transport = httpx.ASGITransport(app=d.app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hall", headers=PAGE_ORIGIN) as c:
        yield c


def bearer(d, role: str, window: str | None = None, clerk: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(d.config.database, role, window, clerk)}"}


async def fingerprint(d) -> tuple:
    """What a refused request must not change: the journal and the tables it projects into."""
    j = d.runtime.journal
    await j.append([])  # everything decided so far is committed
    events = await j.fetchone("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events")
    tickets = await j.fetchone("SELECT COUNT(*), COALESCE(SUM(length(status)), 0) FROM tickets")
    return tuple(events) + tuple(tickets)


async def served(c, d, business: str = "A", window: str = "1", clerk: str = "1001",
                 kiosk: dict | None = None, body: dict | None = None) -> dict:
    """Issue a ticket (kiosk token unless `kiosk` says otherwise), call and finish it at `window`:
    the issue reply (with its rating_key) and the finish reply."""
    kiosk = kiosk if kiosk is not None else bearer(d, "kiosk")
    r = await c.post("/api/v1/tickets", json={"business": business, **(body or {})}, headers=kiosk)
    assert r.status_code == 201, r.text
    issued = r.json()
    staff = bearer(d, "clerk", window, clerk)
    r = await c.post(f"/api/v1/windows/{window}/call-next", headers=staff)
    assert r.status_code == 200 and r.json()["ticket"]["id"] == issued["id"], r.text
    r = await c.post(f"/api/v1/windows/{window}/finish", headers=staff)
    assert r.status_code == 200, r.text
    return {"issued": issued, "finish": r.json(), "clerk": staff}


async def demo_session(c) -> None:
    """Sign this client in on /m with the demo sign-in (the cookie stays in the client)."""
    r = await c.post("/m/demo-login", data={"next": "/m"})
    assert r.status_code == 303, r.text
