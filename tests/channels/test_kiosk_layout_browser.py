"""The kiosk in headless Chromium at the sizes kiosks have (portrait 1080×1920, landscape 1920×1080),
in normal and 适老化 mode: the buttons fill the screen, long names stay whole on their line, nothing
overflows, no English; 适老化 mode shows only what can be taken now, in larger type, and speaks the
guide and the ticket with the server's voice. Screenshots under test-artifacts/kiosk-*.png."""

from __future__ import annotations

import shutil

import pytest

from tests.browser import serving
from tests.pages import VIEWPORTS, check_page_async
from tests.support import AUTOPLAY, free_port, launch_chromium

pytestmark = pytest.mark.browser

ADAPTERS = ["queued.channels.appointments_api:Appointments", "queued.channels.kiosk:Kiosk"]
MORE = """
[[business]]
code = "D"
name = "税务办理"
hours = ["13:30-17:00"]

[[business]]
code = "E"
name = "出入境证件办理"

[[business]]
code = "F"
name = "残疾人证申领换领补领"

[[business]]
code = "G"
name = "公积金提取（退休）"

[[window]]
id = "4"
businesses = ["D", "E", "F", "G"]
"""

# Each name's line boxes: a name with no space or bracket must sit on one line.
LINES_JS = """
() => [...document.querySelectorAll('.k-name')].map(el => {
  const r = document.createRange(); r.selectNodeContents(el);
  const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
  const b = el.closest('button').getBoundingClientRect();
  return {name: el.textContent.trim(), lines: tops.size, size: parseFloat(getComputedStyle(el).fontSize),
          w: b.width, h: b.height};
})
"""


@pytest.fixture
async def served(make_hall):
    port = free_port()
    hall = await make_hall(adapters=ADAPTERS, extra=MORE, public_url=f"http://127.0.0.1:{port}")
    for _ in range(5):  # C's daily cap is 5: full
        await hall.api.post("/api/v1/tickets", json={"business": "C"}, headers=hall.tokens["admin"])
    await hall.api.post("/api/v1/tickets", json={"business": "E"}, headers=hall.tokens["kiosk"])
    async with serving(hall.daemon.app, port) as base:
        yield hall, base


async def start_screen(page, base, token):
    await page.goto(f"{base}/kiosk?token={token}")
    await page.wait_for_url(f"{base}/kiosk")


@pytest.mark.parametrize("size", ["kiosk-portrait", "kiosk-landscape"])
async def test_the_start_screen_fills_the_kiosk(served, artifacts, size):
    from playwright.async_api import async_playwright, expect

    hall, base = served
    token = hall.tokens["kiosk"]["Authorization"].split()[1]
    vp = VIEWPORTS[size]
    async with async_playwright() as pw:
        browser = await launch_chromium(pw, AUTOPLAY)
        try:
            page = await browser.new_page(viewport=vp, locale="zh-CN")
            await start_screen(page, base, token)
            await expect(page.get_by_test_id("business-E")).to_contain_text("出入境证件办理")
            grid = await page.get_by_test_id("kiosk-grid").bounding_box()
            assert grid["height"] >= 0.55 * vp["height"], grid  # not the top quarter
            assert grid["width"] >= 0.9 * vp["width"]
            names = await page.evaluate(LINES_JS)
            assert len(names) == 7
            for n in names:
                whole = n["name"] in ("出入境证件办理", "残疾人证申领换领补领", "综合受理", "不动产登记")
                assert n["lines"] == 1 or not whole, n  # never "出入境证件办/理"
                assert n["lines"] <= 2, n
                assert n["size"] >= 36, n  # read from a step away
                assert n["h"] >= 150, n
            await check_page_async(page, artifacts, size, citizen=True)

            # 适老化: one tap; what can be taken now only, larger, spoken.
            await page.get_by_test_id("elder-toggle").click()
            await expect(page.locator("body.elder")).to_have_count(1)
            await expect(page.get_by_test_id("business-D")).to_have_count(0)  # closed now
            await expect(page.get_by_test_id("business-C")).to_have_count(0)  # full
            await expect(page.get_by_test_id("checkin-form")).to_have_count(0)
            elder = await page.evaluate(LINES_JS)
            assert len(elder) == 5
            big = {n["name"]: n["size"] for n in names}
            for n in elder:
                assert n["lines"] == 1 or n["name"] == "公积金提取（退休）", n
                assert n["size"] >= big[n["name"]], n
                assert n["size"] >= 48, n
            if shutil.which("espeak-ng"):
                await page.wait_for_function("window.kioskSpoken && window.kioskSpoken !== 'pending'")
                assert await page.evaluate("window.kioskSpoken") == "wav"
            await check_page_async(page, artifacts, f"{size}-elder", citizen=True)

            await page.get_by_test_id("business-E").click()
            await expect(page.get_by_test_id("ticket-number")).to_have_text("E002")
            await expect(page.locator("body.elder")).to_have_count(1)
            await expect(page.get_by_test_id("ticket-wait").first).to_have_text("前面还有 1 人")
            await expect(page.get_by_test_id("ticket-windows")).to_have_text("办理窗口 4号窗口")
            await expect(page.get_by_test_id("ticket-next")).to_contain_text("请记住您的号码")  # no printer
            await expect(page.get_by_test_id("say-again")).to_be_visible()
            speech = await page.get_by_test_id("kiosk-guide").get_attribute("data-text")
            assert speech.startswith("您的号码是 E 零 零 二 号。前面还有 1 人。") and "4号窗口" in speech
            if shutil.which("espeak-ng"):
                wav = await page.evaluate("""async () => {
                    const r = await fetch(document.getElementById('guide').src);
                    return [r.status, (await r.arrayBuffer()).byteLength, r.headers.get('content-type')]; }""")
                assert wav[0] == 200 and wav[1] > 20000 and wav[2] == "audio/wav", wav
                await page.wait_for_function("window.kioskSpoken && window.kioskSpoken !== 'pending'")
                assert await page.evaluate("window.kioskSpoken") == "wav"
            qr = await page.get_by_test_id("ticket-qr").locator("svg").bounding_box()
            assert qr["width"] >= 300
            await check_page_async(page, artifacts, f"{size}-elder-ticket", citizen=True)

            await page.get_by_test_id("kiosk-back").click()  # back to this kiosk's own start: normal
            await expect(page.locator("body.elder")).to_have_count(0)
            await page.get_by_test_id("business-F").click()
            await expect(page.get_by_test_id("ticket-number")).to_have_text("F001")
            await expect(page.get_by_test_id("ticket-wait").first).to_have_text("前面还有 2 人")  # E002, E001 at window 4
            await check_page_async(page, artifacts, f"{size}-ticket", citizen=True)
        finally:
            await browser.close()


@pytest.mark.parametrize("size", ["kiosk-portrait", "kiosk-landscape"])
async def test_sign_in_and_the_guide_desk_fit(served, artifacts, size):
    from playwright.async_api import async_playwright, expect

    hall, base = served
    admin = hall.tokens["admin"]["Authorization"].split()[1]
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            page = await browser.new_page(viewport=VIEWPORTS[size], locale="zh-CN")
            await page.goto(f"{base}/kiosk")
            await expect(page.get_by_test_id("kiosk-login")).to_be_visible()
            await check_page_async(page, artifacts, f"{size}-login")  # staff read it: the command stays as is
            await page.goto(f"{base}/kiosk?mode=desk&token={admin}")
            await expect(page.get_by_test_id("green-channel")).to_be_visible()
            await expect(page.get_by_test_id("elder-toggle")).to_have_count(0)
            grid = await page.get_by_test_id("kiosk-grid").bounding_box()
            assert grid["height"] >= 0.5 * VIEWPORTS[size]["height"]
            await check_page_async(page, artifacts, f"{size}-desk", citizen=True)
        finally:
            await browser.close()
