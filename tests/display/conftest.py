"""Display fixtures: an in-process daemon with the display adapters and an HTTP client with tokens."""

from __future__ import annotations

import httpx
import pytest

from tests.support import Mosquitto, token

ADAPTERS = ["queued.broker:EmbeddedBroker", "display.service:DisplayService"]


class Hall:
    """The daemon's HTTP API as a kiosk, clerks and a supervisor use it."""

    def __init__(self, daemon):
        self.daemon = daemon
        db = daemon.config.database
        self.headers = {
            "kiosk": {"Authorization": f"Bearer {token(db, 'kiosk')}"},
            "supervisor": {"Authorization": f"Bearer {token(db, 'supervisor')}"},
            "1": {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"},
            "2": {"Authorization": f"Bearer {token(db, 'clerk', '2', '1002')}"},
        }
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=daemon.app), base_url="http://hall")

    async def issue(self, business: str = "A") -> dict:
        r = await self.http.post("/api/v1/tickets", json={"business": business}, headers=self.headers["kiosk"])
        assert r.status_code == 201, r.text
        return r.json()

    async def act(self, window: str, action: str) -> dict:
        r = await self.http.post(f"/api/v1/windows/{window}/{action}", headers=self.headers[window])
        assert r.status_code == 200, r.text
        return r.json()

    @property
    def service(self):
        return self.daemon.adapter("DisplayService")


@pytest.fixture
async def hall_with_screens(make_daemon):
    """`await hall_with_screens(mqtt_url=...)` → Hall; no mqtt_url: the embedded broker."""
    halls = []

    async def factory(**kw) -> Hall:
        d = await make_daemon(adapters=ADAPTERS, **kw)
        h = Hall(d)
        halls.append(h)
        return h

    yield factory
    for h in halls:
        await h.http.aclose()


@pytest.fixture
def own_mosquitto():
    """A Mosquitto of this test alone (to stop and start it, or for a clean retained state)."""
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()
