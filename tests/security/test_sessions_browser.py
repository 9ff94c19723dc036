"""Signing out in headless Chromium against a real `queued serve`: the cookie the browser held
before 退出 (as a thief would have copied it) opens nothing afterwards, on /admin and on /clerk."""

from __future__ import annotations

import pytest

from tests.support import launch_chromium, serve_hall, token

pytestmark = pytest.mark.browser


@pytest.fixture
def served(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    yield base, db
    proc.stop()


def captured(context, name: str) -> list[dict]:
    cookies = [c for c in context.cookies() if c["name"] == name]
    assert cookies, context.cookies()
    return cookies


def test_a_cookie_captured_before_sign_out_opens_nothing_after(served, artifacts):
    from playwright.sync_api import expect, sync_playwright

    base, db = served
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            # /admin
            ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page = ctx.new_page()
            page.goto(f"{base}/admin")
            expect(page.get_by_role("heading", name="督查员 / 管理员登录")).to_be_visible()
            page.fill("input[name=token]", token(db, "supervisor"))
            page.click("button[type=submit]")
            expect(page.get_by_role("button", name="退出")).to_be_visible()
            stolen = captured(ctx, "queued_admin")
            page.get_by_role("button", name="退出").click()
            expect(page.get_by_role("heading", name="督查员 / 管理员登录")).to_be_visible()
            page.screenshot(path=str(artifacts / "admin-login-after-sign-out.png"), full_page=True)
            thief = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            thief.add_cookies(stolen)
            tp = thief.new_page()
            tp.goto(f"{base}/admin/reviews")
            expect(tp.get_by_role("heading", name="督查员 / 管理员登录")).to_be_visible()
            assert "/admin/login" in tp.url

            # /clerk
            page.goto(f"{base}/clerk")
            page.select_option("#window", "1")
            page.fill("#clerk", "1001")
            page.fill("#pin", "1001")
            page.locator("#pin-form button[type=submit]").click()
            expect(page.locator("#who")).to_contain_text("张三")
            stolen = captured(ctx, "queued_clerk")
            page.locator("#logout").click()
            expect(page.locator("#pin-form")).to_be_visible()
            page.screenshot(path=str(artifacts / "clerk-login-after-sign-out.png"), full_page=True)
            # The same clerk signs in again elsewhere: the copied cookie still opens nothing.
            again = browser.new_context(locale="zh-CN").new_page()
            again.goto(f"{base}/clerk")
            again.select_option("#window", "1")
            again.fill("#clerk", "1001")
            again.fill("#pin", "1001")
            again.locator("#pin-form button[type=submit]").click()
            expect(again.locator("#who")).to_contain_text("张三")
            thief.clear_cookies()
            thief.add_cookies(stolen)
            tp.goto(f"{base}/clerk")
            expect(tp.locator("#pin-form")).to_be_visible()
            expect(tp.locator("#who")).to_have_count(0)
        finally:
            browser.close()
