"""The clerk console in headless Chromium against a real `queued serve`: sign in with 工号 + PIN,
call, start, finish, see the refusal of a key that does not fit, call the next ticket."""

from __future__ import annotations

import httpx
import pytest

from tests.support import launch_chromium, serve_hall, token

pytestmark = pytest.mark.browser



@pytest.fixture
def served(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    yield base, db
    proc.stop()


def test_clerk_console_sign_in_call_start_finish_next(served, artifacts):
    from playwright.sync_api import expect, sync_playwright

    base, db = served
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    for business in "AAAB":
        assert httpx.post(f"{base}/api/v1/tickets", json={"business": business, "channel": "kiosk"},
                          headers=kiosk).status_code == 201

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.goto(f"{base}/clerk")
        page.select_option("#window", "1")
        page.fill("#clerk", "1001")
        page.fill("#pin", "wrong")
        page.locator("#pin-form button[type=submit]").click()
        expect(page.locator("#msg")).to_have_text("工号或密码错误")
        page.fill("#pin", "1001")
        page.locator("#pin-form button[type=submit]").click()

        expect(page.locator("#who")).to_contain_text("张三")
        expect(page.locator("#state")).to_have_text("空闲")
        expect(page.locator("#waiting")).to_contain_text("A 综合受理3")

        page.keyboard.press("F1")  # 呼叫
        expect(page.locator("#ticket")).to_have_text("A001")
        expect(page.locator("#state")).to_have_text("呼叫中")
        expect(page.locator("#msg")).to_have_text("已呼叫 A001")
        expect(page.locator("#waiting")).to_contain_text("A 综合受理2")

        page.locator("#keys button[data-action=start]").click()
        expect(page.locator("#state")).to_have_text("办理中")

        page.keyboard.press("F5")  # 办结
        expect(page.locator("#state")).to_have_text("空闲")
        expect(page.locator("#ticket")).to_have_text("暂无")
        expect(page.locator("#msg")).to_have_text("A001 已办结，请群众评价")
        expect(page.locator("#rating")).to_contain_text("A001")

        page.keyboard.press("F4")  # 开始 while idle: refused, said in Chinese
        expect(page.locator("#msg")).to_have_text("开始失败：1号窗口当前空闲，此操作需要呼叫中")

        page.keyboard.press("F1")
        expect(page.locator("#ticket")).to_have_text("A002")
        page.keyboard.press("F3")  # 过号: A002 goes to the call-back list
        expect(page.locator("#skipped")).to_contain_text("A002")
        page.keyboard.press("F1")  # the next ticket
        expect(page.locator("#ticket")).to_have_text("A003")
        expect(page.locator("#state")).to_have_text("呼叫中")
        expect(page.locator("#rating")).to_contain_text("等待群众评价")
        page.screenshot(path=str(artifacts / "clerk.png"), full_page=True)

        page.keyboard.press("F6")  # 转移 A003 to business B
        page.locator("#transfer-businesses button[data-business=B]").click()
        expect(page.locator("#state")).to_have_text("空闲")
        expect(page.locator("#waiting")).to_contain_text("B 不动产登记2")
        page.locator("#skipped button[data-number=A002]").click()  # 特呼 the skipped A002
        expect(page.locator("#ticket")).to_have_text("A002")
        expect(page.locator("#msg")).to_have_text("已呼叫 A002")
        browser.close()

    # The console acted on the real hall: the API sees the same window.
    admin = {"Authorization": f"Bearer {token(db, 'admin')}"}
    w = httpx.get(f"{base}/api/v1/windows/1", headers=admin).json()
    assert (w["state"], w["ticket"], w["clerk"], w["served_today"]) == ("calling", "A002", "1001", 1)
    assert w["waiting_by_business"] == {"A": 0, "B": 2}
