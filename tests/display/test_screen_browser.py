"""/screen in headless Chromium against a real `queued serve` (embedded broker): a call appears
without a reload and its WAV is fetched and played to the end; without the kiosk's autoplay flag
the screen says so and waits for a tap instead of claiming it spoke; a call whose audio cannot play
is not counted as spoken; after the daemon restarts the page heals by itself."""

from __future__ import annotations

import httpx
import pytest

from tests.support import AUTOPLAY, ServeProcess, free_port, hall_toml, launch_chromium, token

pytestmark = pytest.mark.browser


@pytest.fixture
def hall_process(tmp_path):
    procs = []

    def start(extra: str = ""):
        port = free_port()
        db = tmp_path / "hall.sqlite3"
        conf = tmp_path / "hall.toml"
        conf.write_text(hall_toml(str(db), http_port=port, extra=extra), encoding="utf-8")
        base = f"http://127.0.0.1:{port}"
        procs.append(ServeProcess(conf, tmp_path).start(base))

        def restart():
            procs[-1].stop()
            procs.append(ServeProcess(conf, tmp_path).start(base))

        return base, str(db), restart

    yield start
    if procs:
        procs[-1].stop()


def call_next(base: str, db: str, window: str = "1", finish: bool = False) -> None:
    clerk = {"Authorization": f"Bearer {token(db, 'clerk', window, '1001')}"}
    if finish:
        assert httpx.post(f"{base}/api/v1/windows/{window}/finish", headers=clerk).status_code == 200
    assert httpx.post(f"{base}/api/v1/windows/{window}/call-next", headers=clerk).status_code == 200


def issue(base: str, db: str, businesses: str) -> None:
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    for business in businesses:
        assert httpx.post(f"{base}/api/v1/tickets", json={"business": business}, headers=kiosk).status_code == 201


def test_screen_plays_the_calls_wav_and_survives_a_restart(hall_process, artifacts):
    from playwright.sync_api import expect, sync_playwright

    base, db, restart = hall_process()
    issue(base, db, "AAB")
    with sync_playwright() as pw:
        browser = launch_chromium(pw, AUTOPLAY)  # as a hall's screen PC starts it (docs/screens.md)
        page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        audio_requests = []
        page.on("response", lambda r: audio_requests.append((r.url, r.status, r.headers.get("content-type")))
                if "/audio/calls/" in r.url else None)
        page.goto(f"{base}/screen")
        expect(page.locator("#hall-name")).to_have_text("高新区政务服务中心")
        expect(page.locator("#waiting")).to_contain_text("综合受理2人")
        expect(page.locator("#link")).to_have_text("连接正常")
        expect(page.locator("#audio-state")).to_have_text("语音播报已开启")
        expect(page.locator("#enable-audio")).to_be_hidden()

        call_next(base, db)
        expect(page.locator("#now-ticket")).to_have_text("A001")
        expect(page.locator("#now-where")).to_have_text("请到 1号窗口 办理")
        expect(page.get_by_test_id("grid").locator('[data-window="1"]')).to_contain_text("A001")
        expect(page.locator("#waiting")).to_contain_text("综合受理1人")
        # The WAV is fetched and played to its end, twice ([hall] announce_repeat = 2): ~5 s each.
        page.wait_for_function("window.queuedSpoken.length >= 2", timeout=30000)
        spoken = page.evaluate("window.queuedSpoken")
        assert spoken == [{"ticket": "A001", "window": "1", "text": "请A001号到1号窗口办理", "via": "wav"}] * 2
        attempts = page.evaluate("window.queuedAudio")
        assert [a["result"] for a in attempts] == ["ended", "ended"]
        assert attempts[0]["url"].startswith("/audio/calls/") and attempts[0]["url"].endswith(".wav")
        assert audio_requests and all(status in (200, 206) and ctype == "audio/wav"
                                      for _, status, ctype in audio_requests), audio_requests
        expect(page.locator("#audio-state")).to_have_text("语音播报正常：A001")
        page.screenshot(path=str(artifacts / "screen-spoke.png"))

        restart()
        # The page was not reloaded: its stream reconnects and it fetches the current state.
        expect(page.locator("#link")).to_have_text("连接正常", timeout=15000)
        call_next(base, db, finish=True)
        expect(page.locator("#now-ticket")).to_have_text("A002", timeout=10000)
        expect(page.locator("#recent")).to_contain_text("A001")
        page.wait_for_function("window.queuedSpoken.length >= 3", timeout=30000)
        assert page.evaluate("window.queuedSpoken")[2]["ticket"] == "A002"
        browser.close()


def test_without_autoplay_the_screen_asks_for_a_tap_instead_of_claiming_it_spoke(hall_process, artifacts):
    from playwright.sync_api import expect, sync_playwright

    base, db, _ = hall_process()
    issue(base, db, "AA")
    with sync_playwright() as pw:
        browser = launch_chromium(pw)  # no autoplay flag: Chromium refuses sound before a gesture
        page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page.goto(f"{base}/screen")
        expect(page.locator("#link")).to_have_text("连接正常")
        banner = page.locator("#enable-audio")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("语音播报未开启，请点击屏幕任意处开启")
        expect(page.locator("#audio-state")).to_have_text("语音播报未开启（请点击屏幕）")
        call_next(base, db)
        expect(page.locator("#now-ticket")).to_have_text("A001")  # seen, if not heard
        page.wait_for_function("window.queuedAudio.length >= 1")
        assert page.evaluate("window.queuedAudio")[0]["result"] == "blocked"
        assert page.evaluate("window.queuedSpoken") == []  # nothing claimed as spoken
        from tests.pages import check_page

        check_page(page, artifacts, "screen-audio-blocked-tv-1080p", citizen=True)

        page.mouse.click(960, 300)  # the attendant taps once
        expect(banner).to_be_hidden()
        page.wait_for_function("window.queuedSpoken.length >= 1", timeout=30000)  # the missed call, still fresh
        assert page.evaluate("window.queuedSpoken")[0]["ticket"] == "A001"
        call_next(base, db, finish=True)
        page.wait_for_function("window.queuedSpoken.some(s => s.ticket === 'A002')", timeout=40000)
        browser.close()


def test_a_call_that_cannot_sound_is_shown_as_such(hall_process, artifacts):
    """The WAV fails (here: the request is cut) and Chromium on Linux has no Chinese voice: the
    footer says the voice failed and nothing counts as spoken."""
    from playwright.sync_api import expect, sync_playwright

    base, db, _ = hall_process()
    issue(base, db, "A")
    with sync_playwright() as pw:
        browser = launch_chromium(pw, AUTOPLAY)
        page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page.route("**/audio/calls/*", lambda route: route.abort())
        page.goto(f"{base}/screen")
        expect(page.locator("#link")).to_have_text("连接正常")
        call_next(base, db)
        expect(page.locator("#audio-state")).to_have_text("语音播放失败，请留意屏幕：A001", timeout=15000)
        assert page.evaluate("window.queuedSpoken") == []
        assert page.evaluate("window.queuedAudio")[0]["result"] == "error"
        assert page.evaluate("speechSynthesis.getVoices().filter(v => v.lang.startsWith('zh')).length") == 0
        browser.close()


def test_engine_off_and_no_browser_voice_says_so(hall_process):
    from playwright.sync_api import expect, sync_playwright

    base, db, _ = hall_process('\n[voice]\nengine = "off"\n')
    issue(base, db, "A")
    with sync_playwright() as pw:
        browser = launch_chromium(pw, AUTOPLAY)
        page = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page.goto(f"{base}/screen")
        expect(page.locator("#audio-state")).to_have_text("未配置语音播报")
        call_next(base, db)
        expect(page.locator("#now-ticket")).to_have_text("A001")
        expect(page.locator("#audio-state")).to_have_text("未配置语音播报：A001")
        assert page.evaluate("window.queuedSpoken") == []
        browser.close()
