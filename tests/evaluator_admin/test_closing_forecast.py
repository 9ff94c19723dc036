"""The live hall warns before closing when the engine's forecast leaves people unserved at `closes`
(how many, which business), in /api/v1/hall/live and on /admin."""

from __future__ import annotations

import httpx
import pytest

from tests.browser import chromium_page, serving, sign_in
from tests.channels.conftest import MONDAY_10AM
from tests.support import PAGE_ORIGIN, Clock, token

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter"]


def bearers(d) -> tuple[dict, dict, dict]:
    """Bearer headers of the kiosk, window 1's clerk 1001 and the supervisor of daemon `d`."""
    return tuple({"Authorization": f"Bearer {token(d.config.database, *who)}"}
                 for who in (("kiosk",), ("clerk", "1", "1001"), ("supervisor",)))


def page_client(d) -> httpx.AsyncClient:
    """An in-process client standing in for the hall's own pages (it sends their Origin)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall", headers=PAGE_ORIGIN)


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10AM + 6 * 3600)  # Monday 16:00


async def test_the_live_hall_warns_who_will_not_be_served_by_closing(make_daemon, clock):
    d = await make_daemon(adapters=ADAPTERS, hall_extra='stop_issuing = "16:45"\ncloses = "17:30"')
    kiosk, clerk, sup = bearers(d)
    async with page_client(d) as api:
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


async def test_the_failed_ledger_page(make_daemon, clock):
    d = await make_daemon(adapters=ADAPTERS)
    kiosk, clerk, sup = bearers(d)
    async with page_client(d) as api:
        assert (await api.get("/admin/failed")).status_code == 303  # signed out: to the login
        for outcome, note in (("failed", "<script>x</script>不属于本中心事项"), ("done", "")):
            await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
            await api.post("/api/v1/windows/1/call-next", headers=clerk)
            r = await api.post("/api/v1/windows/1/finish", json={"outcome": outcome, "note": note}, headers=clerk)
            assert r.status_code == 200, r.text
        await api.post("/admin/login", data={"token": sup["Authorization"].split()[1], "next": "/admin"})
        page = (await api.get("/admin/failed")).text
        assert 'data-testid="failed-count">1<' in page and "A001" in page and "A002" not in page
        assert "&lt;script&gt;x&lt;/script&gt;不属于本中心事项" in page and "<script>x</script>" not in page
        assert "张三" in page and "综合受理" in page and "办不成事台账" in page
        page = (await api.get("/admin/failed?from=2026-13-01")).text
        assert "class=\"error\"" in page


@pytest.mark.browser
async def test_warning_and_ledger_in_chromium(make_daemon, clock, artifacts):
    from playwright.async_api import expect

    from tests.pages import check_page_async

    d = await make_daemon(adapters=ADAPTERS, hall_extra='closes = "17:30"')
    kiosk, clerk, sup = bearers(d)
    async with page_client(d) as api:
        await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        await api.post("/api/v1/windows/1/call-next", headers=clerk)
        await api.post("/api/v1/windows/1/finish", json={"outcome": "failed", "note": "需到不动产登记中心现场核验原件"},
                       headers=clerk)
        for _ in range(40):
            await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
    async with serving(d.app) as base, chromium_page("admin") as page:
        await sign_in(page, f"{base}/admin/login", sup["Authorization"].split()[1])
        await expect(page.get_by_test_id("closing-warning")).to_contain_text("闭厅前仍有 22 人办不完：综合受理 22 人")  # window 1 alone is open
        await check_page_async(page, artifacts, "admin-closing-warning")
        await page.goto(f"{base}/admin/failed")
        await expect(page.get_by_test_id("failed-rows")).to_contain_text("需到不动产登记中心现场核验原件")
        await check_page_async(page, artifacts, "admin-failed")


async def test_the_live_hall_shows_parked_cases(make_daemon, clock):
    d = await make_daemon(adapters=ADAPTERS)
    kiosk, clerk, sup = bearers(d)
    async with page_client(d) as api:
        await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        await api.post("/api/v1/windows/1/call-next", headers=clerk)
        await api.post("/api/v1/windows/1/start", headers=clerk)
        assert (await api.post("/api/v1/windows/1/park", json={}, headers=clerk)).status_code == 200
        live = (await api.get("/api/v1/hall/live", headers=sup)).json()
        assert next(w for w in live["windows"] if w["window"] == "1")["parked"] == ["A001"]
        await api.post("/admin/login", data={"token": sup["Authorization"].split()[1], "next": "/admin"})
        assert 'data-testid="parked-1">挂起 A001</span>' in (await api.get("/admin")).text
