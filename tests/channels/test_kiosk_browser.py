"""/kiosk in headless Chromium: sign in with the token link, tap a business, see the confirmation
(number, people ahead, wait, QR code) and the slip the printer received; back to the start by itself.
The daemon's app runs under uvicorn on a free port in this test's event loop (fixed clock)."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser import chromium_page, serving
from tests.support import free_port

pytestmark = pytest.mark.browser

ADAPTERS = ["queued.channels.appointments_api:Appointments", "queued.channels.printing:TicketPrinter",
            "queued.channels.kiosk:Kiosk"]
CLOSED_D = '\n[[business]]\ncode = "D"\nname = "税务办理"\nhours = ["13:30-17:00"]\n\n[[window]]\nid = "4"\nbusinesses = ["D"]\n'


@pytest.fixture
async def served(make_hall, tmp_path):
    slips = tmp_path / "slips.bin"
    port = free_port()
    hall = await make_hall(adapters=ADAPTERS, extra=CLOSED_D + f'\n[printer]\nurl = "file://{slips}"\n',
                           public_url=f"http://127.0.0.1:{port}")
    for _ in range(2):
        await hall.api.post("/api/v1/tickets", json={"business": "B"}, headers=hall.tokens["kiosk"])
    for _ in range(5):  # C's daily cap is 5: full
        await hall.api.post("/api/v1/tickets", json={"business": "C"}, headers=hall.tokens["admin"])
    async with serving(hall.daemon.app, port) as base:
        yield hall, base, slips


async def test_take_a_ticket_by_tapping(served, artifacts, monkeypatch):
    from playwright.async_api import expect

    from queued.channels import kiosk

    monkeypatch.setattr(kiosk, "RETURN_AFTER_S", 4)  # 15 s in the hall; the test need not wait that long
    hall, base, slips = served
    token = hall.tokens["kiosk"]["Authorization"].split()[1]
    async with chromium_page({"width": 1280, "height": 900}) as page:
        await page.goto(f"{base}/kiosk?token={token}")
        await page.wait_for_url(f"{base}/kiosk")  # the token left the address bar for a cookie
        await expect(page.get_by_test_id("business-A")).to_contain_text("综合受理")
        await expect(page.get_by_test_id("business-B")).to_contain_text("等候 2 人")
        await expect(page.get_by_test_id("business-C")).to_be_disabled()
        await expect(page.get_by_test_id("full-C")).to_have_text("已取完")
        await expect(page.get_by_test_id("business-D")).to_be_disabled()
        await expect(page.get_by_test_id("hours-D")).to_have_text("取号时间 13:30-17:00")
        await page.screenshot(path=str(artifacts / "kiosk-start.png"))

        await page.get_by_test_id("business-B").click()
        await expect(page.get_by_test_id("ticket-number")).to_have_text("B003")
        await expect(page.get_by_test_id("ticket-business")).to_have_text("不动产登记")
        await expect(page.get_by_test_id("ticket-wait").first).to_have_text("前面还有 2 人")
        await expect(page.get_by_test_id("ticket-wait").nth(1)).to_have_text("窗口开始办理后依次叫号")  # none open
        await expect(page.get_by_test_id("ticket-windows")).to_have_text("办理窗口 1号、2号窗口")
        await expect(page.get_by_test_id("ticket-next")).to_contain_text("请取走号票")  # a printer is set
        await expect(page.get_by_test_id("ticket-time")).to_have_text("取号时间 2026-11-16 10:00")
        qr = page.get_by_test_id("ticket-qr")
        await expect(qr.locator("svg")).to_be_visible()
        box = await qr.locator("svg").bounding_box()
        assert box["width"] >= 250 and box["height"] >= 250
        url = await qr.get_attribute("data-url")
        ticket_id = url.rsplit("/", 1)[1].split("#")[0]
        key = hall.daemon.runtime.engine.tickets[ticket_id].rating_key
        assert url == f"{base}/m/t/{ticket_id}#k={key}"
        assert hall.daemon.runtime.engine.tickets[ticket_id].number == "B003"
        await page.screenshot(path=str(artifacts / "kiosk.png"))

        for _ in range(200):  # the printer got the same ticket
            if slips.exists() and slips.read_bytes().endswith(b"\x1dV\x00"):
                break
            await asyncio.sleep(0.02)
        data = slips.read_bytes()
        assert b"B003" in data and f"/m/t/{ticket_id}#k={key}".encode() in data

        await page.wait_for_url(f"{base}/kiosk", timeout=8000)  # back to the start by itself
        await expect(page.get_by_test_id("business-B")).to_contain_text("等候 3 人")
