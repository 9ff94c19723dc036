"""Fixtures of the channel tests: a hall on a fixed Monday (bookings count working days), with the
channel adapters, an ASGI client and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support import PAGE_ORIGIN, Clock, token

MONDAY_10AM = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
ADAPTERS = ["queued.channels.appointments_api:Appointments", "queued.channels.kiosk:Kiosk"]


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10AM)


@dataclass
class Hall:
    daemon: object
    api: httpx.AsyncClient
    tokens: dict[str, dict[str, str]]
    clock: Clock

    @property
    def book(self):
        return self.daemon.adapter("Appointments").book

    def sessions(self, openid_by_header: str = "x-test-openid") -> None:
        """Stand in for the WeChat adapter's session look-up: the openid comes in a header."""

        async def session(request):
            return request.headers.get(openid_by_header)

        self.daemon.app.state.mobile_session = session


@pytest.fixture
async def make_hall(make_daemon, clock):
    clients = []

    async def factory(extra: str = "", adapters: list[str] | None = None, **kw) -> Hall:
        kw.setdefault("every_day", False)  # bookings count the hall's service days: weekends off here
        d = await make_daemon(extra=extra, adapters=ADAPTERS if adapters is None else adapters, **kw)
        db = d.config.database
        toks = {role: {"Authorization": f"Bearer {token(db, role)}"} for role in ("kiosk", "desk", "admin", "supervisor")}
        toks["clerk1"] = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
        toks["clerk3"] = {"Authorization": f"Bearer {token(db, 'clerk', '3')}"}
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                   headers=PAGE_ORIGIN)
        clients.append(client)
        return Hall(d, client, toks, clock)

    yield factory
    for c in clients:
        await c.aclose()


@pytest.fixture
async def hall(make_hall) -> Hall:
    return await make_hall()
