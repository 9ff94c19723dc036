"""The page checker finds what a person would see as broken: clipped text, English for citizens."""

from __future__ import annotations

import pytest

from tests.pages import check_page, english_words, overflowing
from tests.support import launch_chromium

pytestmark = pytest.mark.browser


def test_english_words_ignores_ticket_numbers_and_finds_english():
    assert english_words("请A001号到3号窗口办理 前面还有 2 人") == []
    assert english_words("（Already holding A007.）") == ["Already", "holding"]
    assert english_words("字段 level 应为 an integer") == ["level", "an", "integer"]


def test_overflow_is_found_and_a_fitting_page_passes(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 400, "height": 300}, locale="zh-CN")
        page.set_content('<div style="width:80px;overflow:hidden;white-space:nowrap" id="x">'
                         '出入境证件办理出入境证件办理</div>')
        spill = overflowing(page)
        assert [s["id"] for s in spill] == ["x"] and "clipped-x" in spill[0]["why"]
        page.set_content('<div style="width:300px">出入境证件办理</div><p>请取号</p>')
        assert check_page(page, tmp_path, "fits", citizen=True).exists()
        page.set_content('<p>Take a number</p>')
        with pytest.raises(AssertionError, match="English"):
            check_page(page, tmp_path, "english", citizen=True)
        browser.close()
