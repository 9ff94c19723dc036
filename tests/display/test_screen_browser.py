"""/screen in headless Chromium against a real `queued serve` (embedded broker): a call appears
without a reload and is spoken; after the daemon restarts the page heals by itself."""

from __future__ import annotations

import httpx
import pytest

from tests.support import ServeProcess, free_port, hall_toml, launch_chromium, token

pytestmark = pytest.mark.browser



@pytest.fixture
def hall_process(tmp_path):
    port = free_port()
    db = tmp_path / "hall.sqlite3"
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=port), encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    procs = [ServeProcess(conf, tmp_path).start(base)]

    def restart():
        procs[-1].stop()
        procs.append(ServeProcess(conf, tmp_path).start(base))

    yield base, str(db), restart
    procs[-1].stop()


def test_screen_shows_and_speaks_calls_and_survives_a_restart(hall_process, artifacts):
    from playwright.sync_api import expect, sync_playwright

    base, db, restart = hall_process
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
    for business in ("A", "A", "B"):
        assert httpx.post(f"{base}/api/v1/tickets", json={"business": business}, headers=kiosk).status_code == 201

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 720}, locale="zh-CN")
        page.goto(f"{base}/screen")
        expect(page.locator("#hall-name")).to_have_text("高新区政务服务中心")
        expect(page.locator("#waiting")).to_contain_text("综合受理2 人")
        expect(page.locator("#link")).to_have_text("已连接")
        expect(page.locator("#clock")).not_to_be_empty()

        assert httpx.post(f"{base}/api/v1/windows/1/call-next", headers=clerk).status_code == 200
        expect(page.locator("#now-ticket")).to_have_text("A001")
        expect(page.locator("#now-where")).to_have_text("请到 1号窗口 办理")
        expect(page.locator("#waiting")).to_contain_text("综合受理1 人")
        page.wait_for_function("window.queuedSpoken.length >= 2")
        assert page.evaluate("window.queuedSpoken") == ["请A 零 零 一号到1号窗口办理"] * 2  # repeated twice
        page.screenshot(path=str(artifacts / "screen.png"))

        restart()
        # The page was not reloaded: its stream reconnects and it fetches the current state.
        expect(page.locator("#link")).to_have_text("已连接", timeout=15000)
        clerk2 = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
        assert httpx.post(f"{base}/api/v1/windows/1/finish", headers=clerk2).status_code == 200
        assert httpx.post(f"{base}/api/v1/windows/1/call-next", headers=clerk2).status_code == 200
        expect(page.locator("#now-ticket")).to_have_text("A002", timeout=10000)
        expect(page.locator("#recent")).to_contain_text("A001")
        page.wait_for_function("window.queuedSpoken.length >= 4")
        assert page.evaluate("window.queuedSpoken")[2] == "请A 零 零 二号到1号窗口办理"
        page.screenshot(path=str(artifacts / "screen-after-restart.png"))
        browser.close()
