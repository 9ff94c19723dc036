"""/admin/planner: a supervisor runs the staffing planner on the hall's own last weeks, in a worker
process, and reads the plan; in headless Chromium at the supervisor's 1920×1080."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from queued.config import parse_config
from queued.core.calendar import HallCalendar
from queued.daemon import Daemon
from queued.simulate.journaled import write_journal
from queued.simulate.run import run_days
from tests import pages
from tests.browser import chromium_page, serving, sign_in
from tests.simulate.helpers import HALL, example
from tests.support import Clock, token

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter", "queued.simulate.admin:PlannerPage"]


@pytest.fixture
async def hall(tmp_path):
    """The example hall's daemon over a database holding two simulated weeks (2026-03-02..13)."""
    sc = example()
    db = tmp_path / "hall.sqlite3"
    await write_journal(str(db), sc, run_days(sc, 10, 5, record_events=True))
    text = HALL.read_text(encoding="utf-8").replace('database = "sim_hall.sqlite3"', f'database = "{db}"\nhttp = "127.0.0.1:1"')
    cfg = parse_config(text, source="sim_hall")
    clock = Clock(HallCalendar(cfg.timezone).at("2026-03-16", 10 * 60))
    d = Daemon(cfg, clock=clock, adapters=ADAPTERS)
    await d.start()
    yield d
    await d.stop()


async def until_done(d, timeout_s: float = 240) -> None:
    page = d.adapter("PlannerPage")
    for _ in range(int(timeout_s / 0.2)):
        if page.running is None:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the planner did not finish")


async def test_inputs_rights_and_one_run_at_a_time(hall):
    sup = {"Authorization": f"Bearer {token(hall.config.database, 'supervisor')}"}
    kiosk = {"Authorization": f"Bearer {token(hall.config.database, 'kiosk')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hall.app), base_url="http://hall") as c:
        r = await c.get("/admin/planner")
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
        r = await c.get("/admin/planner", headers=kiosk)
        assert r.status_code == 403 and "不能使用排班测算" in r.text
        r = await c.post("/admin/planner", headers=sup, data={"weeks": "99", "target": "x", "days": "5"})
        assert r.status_code == 422 and "历史周数须为 1–12 的整数" in r.text and "（分钟）须为 1–120 的整数" in r.text
        assert hall.adapter("PlannerPage").running is None
        r = await c.post("/admin/planner", headers=sup, data={"weeks": "2", "target": "20", "days": "5"})
        assert r.status_code == 303
        page = hall.adapter("PlannerPage")
        assert page.running is not None
        r = await c.post("/admin/planner", headers=sup, data={"weeks": "2", "target": "20", "days": "5"})
        assert r.status_code == 409 and "已有一次测算在进行中" in r.text
        # the plan is computed in another process while the hall goes on answering
        for _ in range(200):
            if page._proc is not None or page.running is None:
                break
            await asyncio.sleep(0.05)
        proc = page._proc
        assert proc is not None and proc.pid != os.getpid() and proc.returncode is None
        assert (await c.get("/healthz")).status_code == 200
        await until_done(hall)
        assert page.last["ok"], page.last
        r = await c.get("/admin/planner", headers=sup)
        assert r.status_code == 200 and "建议开窗数" in r.text and "09:00–09:30" in r.text
        assert "历史记录 2026-03-02 至 2026-03-15（10 天）" in r.text


async def test_history_too_thin_is_said_on_the_page(hall):
    hall.runtime.clock.now = HallCalendar(hall.config.timezone).at("2026-06-01", 10 * 60)
    sup = {"Authorization": f"Bearer {token(hall.config.database, 'supervisor')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hall.app), base_url="http://hall") as c:
        await c.post("/admin/planner", headers=sup, data={"weeks": "2", "target": "20", "days": "5"})
        await until_done(hall)
        r = await c.get("/admin/planner", headers=sup)
    assert "上次测算未完成" in r.text and "没有历史数据" in r.text


@pytest.mark.browser
async def test_a_supervisor_plans_the_week_in_chromium(hall, artifacts):
    from playwright.async_api import expect

    sup = token(hall.config.database, "supervisor")
    async with serving(hall.app) as base:
        async with chromium_page("admin") as page:
            await sign_in(page, f"{base}/admin/planner", sup)
            await expect(page.get_by_role("heading", name="排班测算：每半小时最少开几个窗口")).to_be_visible()
            await expect(page.locator("header.bar nav a.on")).to_have_text("排班测算")
            await page.fill("input[name=weeks]", "2")
            await page.fill("input[name=target]", "20")
            await page.fill("input[name=days]", "10")
            await page.click("#planner-form button")
            await expect(page.locator("#running")).to_contain_text("正在按最近 2 周的记录测算")
            await expect(page.locator("#plan")).to_be_visible(timeout=240_000)
            await expect(page.locator("#plan h2")).to_contain_text("90% 等候不超过 20.0 分钟；模拟 10 天")
            rows = page.locator("table.plan tbody tr")
            assert await rows.count() == 18  # 08:30–17:00 in half hours, and the window-hours
            await expect(rows.first).to_contain_text("08:30–09:00")
            await expect(page.locator("#history")).to_contain_text("A 综合受理")
            await expect(page.locator("#outcome")).to_contain_text("按此排班模拟：平均等候")
            assert await page.locator("#plan svg rect").count() > 20
            await page.screenshot(path=str(artifacts / "admin-planner-1920x1080.png"))
            spill = await page.evaluate(pages._OVERFLOW_JS)  # check_page's test, in the async API
            assert not spill, spill[:8]
            await page.locator("#plan").screenshot(path=str(artifacts / "admin-planner-plan.png"))
