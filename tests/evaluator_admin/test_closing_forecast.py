"""The live hall warns before closing when the engine's forecast leaves people unserved at `closes`
(how many, which business), in /api/v1/hall/live and on /admin."""

from __future__ import annotations

import httpx
import pytest

from tests.channels.conftest import MONDAY_10AM
from tests.support import PAGE_ORIGIN, Clock, token

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter"]


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10AM + 6 * 3600)  # Monday 16:00


async def test_the_live_hall_warns_who_will_not_be_served_by_closing(make_daemon, clock):
    d = await make_daemon(adapters=ADAPTERS, hall_extra='stop_issuing = "16:45"\ncloses = "17:30"')
    db = d.config.database
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    sup = {"Authorization": f"Bearer {token(db, 'supervisor')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as api:
        for _ in range(20):
            assert (await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)).status_code == 201
        live = (await api.get("/api/v1/hall/live", headers=sup)).json()
        # Windows 1 and 2 serve A, five minutes a case: twenty are done by 17:00.
        assert live["closing"] == {"closes": "17:30", "warn": False, "unserved": 0, "businesses": [],
                                   "last_end": "2026-11-16T16:50:00.000+08:00"}
        for _ in range(20):
            await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        await api.post("/api/v1/tickets", json={"business": "B"}, headers=kiosk)
        live = (await api.get("/api/v1/hall/live", headers=sup)).json()
        # 41 cases on two windows: 18 rounds end by 17:30, the 37th to 41st case end after it; window 2
        # prefers B, so B001 is called at once and the last five are A's.
        assert live["closing"]["warn"] is True and live["closing"]["unserved"] == 5
        assert live["closing"]["businesses"] == [{"code": "A", "name": "综合受理", "unserved": 5}]
        await api.post("/admin/login", data={"token": sup["Authorization"].split()[1], "next": "/admin"})
        page = (await api.get("/admin")).text
        assert "今日 17:30 闭厅前仍有 5 人办不完：综合受理 5 人。" in page
        # Past closing the warning gives way to 延时服务 (the phase), and the field is null.
        clock.now = MONDAY_10AM + 7.5 * 3600 + 60
        live = (await api.get("/api/v1/hall/live", headers=sup)).json()
        assert live["closing"] is None
