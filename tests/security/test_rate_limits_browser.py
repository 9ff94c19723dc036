"""What a citizen sees on /m when the issue limit stops them (headless Chromium, real `queued serve`):
a clear Chinese sentence, no English, and no number taken."""

from __future__ import annotations

import httpx
import pytest

from tests.pages import VIEWPORTS, check_page
from tests.support import launch_chromium, serve_hall

pytestmark = pytest.mark.browser

LIMITED = """
[wechat]
demo_login = true

[limits]
issue_per_session = 2
"""


def test_m_says_in_chinese_that_the_limit_was_reached(tmp_path, artifacts):
    from playwright.sync_api import expect, sync_playwright

    proc, base, _ = serve_hall(tmp_path, extra=LIMITED)
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            pw.selectors.set_test_id_attribute("data-testid")
            page = browser.new_context(viewport=VIEWPORTS["phone"], device_scale_factor=2, is_mobile=True,
                                       has_touch=True, locale="zh-CN").new_page()
            page.set_default_timeout(10000)
            page.goto(f"{base}/m")
            page.get_by_test_id("demo-login").click()
            msg = page.get_by_test_id("take-msg")
            for business, number in (("A", "A001"), ("B", "B001")):
                page.get_by_test_id(f"take-{business}").click()
                expect(msg).to_contain_text(f"取号成功：{number}")
            page.get_by_test_id("take-C").click()
            expect(msg).to_have_text("取号过于频繁，请 30 分钟后再试。")
            expect(msg).to_have_class("msg err")
            check_page(page, artifacts, "mobile-rate-limited", citizen=True, full_page=True)
            browser.close()
        hall = httpx.get(f"{base}/api/v1/hall").json()
        assert {b["code"]: b["issued"] for b in hall["businesses"]} == {"A": 1, "B": 1, "C": 0}
    finally:
        proc.stop()
