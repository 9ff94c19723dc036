"""The live hall warns before closing when the engine's forecast leaves people unserved at `closes`
(how many, which business), in /api/v1/hall/live and on /admin."""

from __future__ import annotations

import httpx
import pytest

from tests.browser import serving
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


async def test_the_failed_ledger_page(make_daemon, clock):
    d = await make_daemon(adapters=ADAPTERS)
    db = d.config.database
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
    sup = {"Authorization": f"Bearer {token(db, 'supervisor')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as api:
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

    from playwright.async_api import async_playwright, expect

    from tests.pages import VIEWPORTS, check_page_async
    from tests.support import launch_chromium

    d = await make_daemon(adapters=ADAPTERS, hall_extra='closes = "17:30"')
    db = d.config.database
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as api:
        await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        await api.post("/api/v1/windows/1/call-next", headers=clerk)
        await api.post("/api/v1/windows/1/finish", json={"outcome": "failed", "note": "需到不动产登记中心现场核验原件"},
                       headers=clerk)
        for _ in range(40):
            await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
    async with serving(d.app) as base:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            page = await browser.new_page(viewport=VIEWPORTS["admin"], locale="zh-CN")
            await page.goto(f"{base}/admin/login")
            await page.fill("input[name=token]", token(db, "supervisor"))
            await page.locator("button[type=submit]").click()
            await expect(page.get_by_test_id("closing-warning")).to_contain_text("闭厅前仍有 22 人办不完：综合受理 22 人")  # window 1 alone is open
            await check_page_async(page, artifacts, "admin-closing-warning")
            await page.goto(f"{base}/admin/failed")
            await expect(page.get_by_test_id("failed-rows")).to_contain_text("需到不动产登记中心现场核验原件")
            await check_page_async(page, artifacts, "admin-failed")
            await browser.close()


async def test_the_live_hall_shows_parked_cases(make_daemon, clock):
    d = await make_daemon(adapters=ADAPTERS)
    db = d.config.database
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
    sup = {"Authorization": f"Bearer {token(db, 'supervisor')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as api:
        await api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        await api.post("/api/v1/windows/1/call-next", headers=clerk)
        await api.post("/api/v1/windows/1/start", headers=clerk)
        assert (await api.post("/api/v1/windows/1/park", json={}, headers=clerk)).status_code == 200
        live = (await api.get("/api/v1/hall/live", headers=sup)).json()
        assert next(w for w in live["windows"] if w["window"] == "1")["parked"] == ["A001"]
        await api.post("/admin/login", data={"token": sup["Authorization"].split()[1], "next": "/admin"})
        assert 'data-testid="parked-1">挂起 A001</span>' in (await api.get("/admin")).text
