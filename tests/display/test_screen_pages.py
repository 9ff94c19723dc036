"""/screen, /screen/window/{w} and the clerk console's empty state in headless Chromium at the sizes
halls use, with windows in every state; screenshots under test-artifacts/ (tests/pages.py: no text
outside its box, no English in citizen text). The daemon's app runs under uvicorn in this test's
event loop, on the test's clock."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from tests.browser import chromium_page, clerk_sign_in, serving
from tests.pages import VIEWPORTS, check_page_async
from tests.support import AUTOPLAY, PAGE_ORIGIN, free_port, launch_chromium, token

pytestmark = pytest.mark.browser

ADAPTERS = ["queued.broker:EmbeddedBroker", "display.service:DisplayService", "queued.clerk.clerk:ClerkConsole"]
MORE_WINDOWS = "".join(f'\n[[window]]\nid = "{i}"\nbusinesses = ["A", "B"]\n' for i in (4, 5, 7, 8)) + \
    '\n[[window]]\nid = "6"\nname = "综合受理窗口"\nbusinesses = ["A"]\n'
NOTICE = ('\n[screen]\nnotice = "温馨提示：请按叫号顺序到窗口办理；过号请到导办台重新排队；'
          '办事大厅提供免费复印、饮水和轮椅服务，如需帮助请联系现场工作人员。"\n')
LCD_SIZES = {"lcd-1280x400": (1280, 400), "lcd-800x480": (800, 480), "lcd-1920x540": (1920, 540)}


@pytest.fixture
async def served(make_daemon):
    async with AsyncExitStack() as servers:
        async def start(extra: str = "", hall_extra: str = ""):
            d = await make_daemon(adapters=ADAPTERS, extra=MORE_WINDOWS + NOTICE + extra, hall_extra=hall_extra)
            return d, await servers.enter_async_context(serving(d.app))

        yield start


class Clerks:
    def __init__(self, daemon):
        import httpx

        self.db = daemon.config.database
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=daemon.app), base_url="http://hall",
                                      headers=PAGE_ORIGIN)

    async def issue(self, business: str) -> None:
        r = await self.http.post("/api/v1/tickets", json={"business": business},
                                 headers={"Authorization": f"Bearer {token(self.db, 'kiosk')}"})
        assert r.status_code == 201, r.text

        self.number: dict[str, str] = {}  # window → the ticket it called last

    async def act(self, window: str, action: str, body: dict | None = None) -> dict:
        r = await self.http.post(f"/api/v1/windows/{window}/{action}", json=body,
                                 headers={"Authorization": f"Bearer {token(self.db, 'clerk', window)}"})
        assert r.status_code == 200, r.text
        if action == "call-next":
            self.number[window] = r.json()["ticket"]["number"]
        return r.json()


async def busy_hall(daemon) -> Clerks:
    """Window 1 calling, 2 and 4 serving, 3 paused (就餐), 5 idle, 6 calling (a long name), 7 paused
    without a reason, 8 never opened; people waiting."""
    h = Clerks(daemon)
    for business in "AABBAAACCAB":
        await h.issue(business)
    await h.act("2", "call-next")
    await h.act("2", "start")
    await h.act("4", "call-next")
    await h.act("4", "start")
    await h.act("3", "call-next")
    await h.act("3", "finish")
    await h.act("3", "pause", {"reason": "就餐"})
    await h.act("5", "sign-in", {"clerk": "1001", "pin": "1001"})
    await h.act("7", "sign-in", {"clerk": "1002", "pin": "1002"})
    await h.act("7", "pause")
    await h.act("6", "call-next")
    await h.act("1", "call-next")
    return h


async def font_px(page, selector: str) -> float:
    return await page.evaluate(f"parseFloat(getComputedStyle(document.querySelector({selector!r})).fontSize)")


async def test_hall_screen_with_windows_in_every_state(served, artifacts):
    from playwright.async_api import async_playwright, expect

    daemon, base = await served()
    h = await busy_hall(daemon)
    n = h.number
    async with async_playwright() as pw:
        browser = await launch_chromium(pw, AUTOPLAY)
        try:
            for name in ("tv-1080p", "tv-4k"):
                vp = VIEWPORTS[name]
                page = await browser.new_page(viewport=vp, locale="zh-CN")
                await page.goto(f"{base}/screen")
                await expect(page.locator("#link")).to_have_text("连接正常")
                await expect(page.locator("#now-ticket")).to_have_text(n["1"])  # window 1 called last
                await expect(page.locator("#now-where")).to_have_text("请到 1号窗口 办理")
                grid = page.get_by_test_id("grid")
                card = {w: grid.locator(f'[data-window="{w}"]') for w in "12345678"}
                await expect(card["1"]).to_have_class("card calling")
                await expect(card["1"]).to_contain_text(n["1"])
                await expect(card["1"]).to_contain_text("呼叫中")
                await expect(card["2"]).to_contain_text(n["2"])
                await expect(card["2"]).to_contain_text("办理中")
                await expect(card["3"]).to_contain_text("就餐")
                await expect(card["3"]).to_contain_text("暂停服务")
                await expect(card["5"]).to_contain_text("空闲")
                await expect(card["6"]).to_contain_text("综合受理窗口")
                await expect(card["8"]).to_contain_text("未开窗")
                await expect(page.locator("#waiting")).to_contain_text("综合受理")
                await expect(page.locator("#recent")).to_contain_text(n["6"])  # called just before
                assert await font_px(page, "#now-ticket") >= vp["height"] / 6  # the called number
                assert await font_px(page, ".card .ticket") >= vp["height"] * 0.06
                assert await font_px(page, "#waiting .name") >= vp["height"] * 0.044
                await asyncio.sleep(4.5)  # the flash is over: the picture a citizen sees most of the time
                await check_page_async(page, artifacts, f"screen-{name}", citizen=True)
                await page.close()
        finally:
            await browser.close()


async def test_hall_screen_calm_when_nothing_was_called(served, artifacts):
    from playwright.async_api import async_playwright, expect

    daemon, base = await served()
    async with async_playwright() as pw:
        browser = await launch_chromium(pw, AUTOPLAY)
        try:
            for name in ("tv-1080p", "tv-4k"):
                page = await browser.new_page(viewport=VIEWPORTS[name], locale="zh-CN")
                await page.goto(f"{base}/screen")
                await expect(page.locator("#link")).to_have_text("连接正常")
                await expect(page.get_by_test_id("now")).to_contain_text("欢迎光临")
                await expect(page.locator("#now-ticket")).to_be_hidden()
                await expect(page.locator("#recent")).to_have_text("今日尚未叫号")
                await expect(page.get_by_test_id("grid").locator(".card.closed")).to_have_count(8)
                # Nothing red on a calm screen: no element is drawn in an alarm colour.
                reds = await page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => {
                    const v = e.getBoundingClientRect(); if (!v.width || !v.height) return false;
                    return [getComputedStyle(e).color, getComputedStyle(e).backgroundColor].some(c => {
                      const m = c.match(/\\d+/g); if (!m || (m.length > 3 && +m[3] === 0)) return false;
                      const [r, g, b] = m.map(Number); return r > 180 && g < 110 && b < 110; }); }).map(e => e.id || e.className)""")
                assert reds == [], reds
                await check_page_async(page, artifacts, f"screen-empty-{name}", citizen=True)
                await page.close()
        finally:
            await browser.close()


async def test_hall_screen_after_closing_time_says_extended_service(served, artifacts, clock):
    from playwright.async_api import expect

    daemon, base = await served(hall_extra='closes = "17:30"')
    await busy_hall(daemon)
    clock.advance(7 * 3600 + 40 * 60)  # 17:40: past `closes`, people still wait
    async with chromium_page("tv-1080p", AUTOPLAY) as page:
        await page.goto(f"{base}/screen")
        await expect(page.locator("#day")).to_have_text("延时服务中")
        await expect(page.get_by_test_id("grid").locator('[data-window="2"] .tag')).to_have_text("延时")
        await expect(page.get_by_test_id("grid").locator('[data-window="8"] .tag')).to_have_count(0)
        await asyncio.sleep(4.5)
        await check_page_async(page, artifacts, "screen-extended-tv-1080p", citizen=True)


async def test_window_lcd_at_its_sizes(served, artifacts):
    from playwright.async_api import async_playwright, expect

    daemon, base = await served()
    h = await busy_hall(daemon)
    async with async_playwright() as pw:
        browser = await launch_chromium(pw, AUTOPLAY)
        try:
            for name, (width, height) in LCD_SIZES.items():
                page = await browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
                await page.goto(f"{base}/screen/window/1")
                await expect(page.locator("#ticket")).to_have_text(h.number["1"])
                await expect(page.locator("#label")).to_have_text("1号窗口")
                await expect(page.locator("#state")).to_have_text(f"请 {h.number['1']} 号到本窗口")
                assert await font_px(page, "#ticket") >= height * 0.3
                await asyncio.sleep(4.5)
                await check_page_async(page, artifacts, f"screen-window-calling-{name}", citizen=True)
                await page.goto(f"{base}/screen/window/3")
                await expect(page.locator("#ticket")).to_have_text("就餐")
                await expect(page.locator("#state")).to_have_text("暂停服务")
                await check_page_async(page, artifacts, f"screen-window-paused-{name}", citizen=True)
                await page.goto(f"{base}/screen/window/6")
                await expect(page.locator("#label")).to_have_text("综合受理窗口")
                await check_page_async(page, artifacts, f"screen-window-long-name-{name}", citizen=True)
                await page.close()
            # Live: the LCD follows its window without a reload, and only its window.
            page = await browser.new_page(viewport={"width": 1280, "height": 400}, locale="zh-CN")
            await page.goto(f"{base}/screen/window/5")
            await expect(page.locator("#state")).to_have_text("欢迎光临")
            await h.act("5", "call-next")
            await expect(page.locator("#state")).to_contain_text("号到本窗口")
            await expect(page.locator("body")).to_have_class("lcd calling flash")
            await h.act("5", "start")
            await expect(page.locator("#state")).to_have_text("正在办理")
            r = await h.http.get("/screen/window/99")
            assert r.status_code == 404 and "没有这个窗口" in r.text
        finally:
            await browser.close()


async def test_clerk_console_empty_state(served, artifacts):
    from playwright.async_api import expect

    daemon, base = await served()
    async with chromium_page("clerk", AUTOPLAY) as page:
        await clerk_sign_in(page, base)
        await expect(page.locator("#who")).to_contain_text("张三")
        await expect(page.locator("#ticket")).to_have_text("暂无")
        await expect(page.locator("#ticket")).to_have_class("ticket empty")
        color = await page.evaluate("getComputedStyle(document.querySelector('#ticket')).color")
        r, g, b = (int(x) for x in color[color.index("(") + 1:color.index(")")].split(",")[:3])
        assert not (r > 120 and g < 80 and b < 80), color  # not a red bar
        await check_page_async(page, artifacts, "clerk-empty-1366x768")


BIG_HALL_BUSINESSES = [("A", "综合受理"), ("B", "不动产登记"), ("C", "社保医保"), ("D", "出入境证件办理"), ("E", "税务"),
                       ("F", "公积金"), ("G", "市场准入与企业开办"), ("H", "户籍")]


async def test_a_large_hall_pages_its_windows_and_businesses(make_daemon, artifacts):
    """30 windows and 8 businesses with long names: the grid shows 12 windows a page and turns the
    page, nothing spills out of its box, and a long name is shrunk to fit, not cut."""
    from playwright.async_api import expect

    from queued.config import parse_config
    from queued.daemon import Daemon

    parts = ['[daemon]\ndatabase = "DB"\nembedded_mqtt = "127.0.0.1:PORT"\n[hall]\nid = "main"\n'
             'name = "市民中心政务服务大厅（东区）"\nservice_days = ["sat", "sun"]\n']
    parts += [f'[[business]]\ncode = "{c}"\nname = "{n}"\n' for c, n in BIG_HALL_BUSINESSES]
    parts += [f'[[window]]\nid = "{i}"\nbusinesses = ["{BIG_HALL_BUSINESSES[i % 8][0]}"]\n' for i in range(1, 31)]
    import tempfile

    tmp = tempfile.mkdtemp(prefix="bighall-")
    text = "\n".join(parts).replace("DB", f"{tmp}/h.sqlite3").replace("PORT", str(free_port()))
    daemon = Daemon(parse_config(text), adapters=ADAPTERS[:2])
    await daemon.start()
    try:
        h = Clerks(daemon)
        for c, _ in BIG_HALL_BUSINESSES * 3:
            await h.issue(c)
        for w in ("1", "2", "9", "17"):
            await h.act(w, "call-next")
        async with serving(daemon.app) as base:
            async with chromium_page("tv-1080p", AUTOPLAY) as page:
                await page.goto(f"{base}/screen")
                await expect(page.locator("#grid-page")).to_have_text("窗口 第 1 / 3 页")
                await expect(page.get_by_test_id("grid").locator(".card")).to_have_count(12)
                await expect(page.locator("#waiting-page")).to_contain_text("第 1 / ")
                await asyncio.sleep(4.5)
                await check_page_async(page, artifacts, "screen-large-hall-tv-1080p", citizen=True)
                await expect(page.locator("#grid-page")).to_have_text("窗口 第 2 / 3 页", timeout=12000)
                await expect(page.get_by_test_id("grid").locator('[data-window="17"]')).to_contain_text("呼叫中")
    finally:
        await h.http.aclose()
        await daemon.stop()
