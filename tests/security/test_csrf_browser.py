"""Cross-site requests in headless Chromium against a real `queued serve`: a clerk signed in at
/clerk visits a page served by another port of the same host (as Grafana on :3000 is in the compose
file: same site, so even SameSite=Strict cookies go along). That page's no-cors fetch and its
auto-submitted form must not pause the window, and its form must not sign the browser in to
/admin under the attacker's token (login CSRF). The console itself keeps working."""

from __future__ import annotations

import http.server
import threading

import httpx
import pytest

from tests.support import free_port, launch_chromium, serve_hall, token

pytestmark = pytest.mark.browser


def evil_pages(daemon: str, attacker_token: str) -> dict[str, str]:
    pause = f"{daemon}/api/v1/windows/1/pause"
    return {
        "/fetch": f"""<!doctype html><title>dashboard</title><script>
            fetch("{pause}", {{method: "POST", mode: "no-cors", credentials: "include", body: "{{}}"}})
              .then(() => document.title = "sent", () => document.title = "sent");
            </script>""",
        "/form": f"""<!doctype html><title>dashboard</title>
            <form method="post" action="{pause}" enctype="text/plain">
            <input type="hidden" name='{{"reason":"' value='x"}}'></form>
            <script>document.forms[0].submit()</script>""",
        "/login": f"""<!doctype html><title>dashboard</title>
            <form method="post" action="{daemon}/admin/login">
            <input type="hidden" name="token" value="{attacker_token}">
            <input type="hidden" name="next" value="/admin"></form>
            <script>document.forms[0].submit()</script>""",
    }


@pytest.fixture
def evil():
    """Another web server on the same host, another port."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", pages
    server.shutdown()
    server.server_close()


@pytest.fixture
def served(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    yield base, db
    proc.stop()


def window_state(base: str, bearer: dict) -> str:
    return httpx.get(f"{base}/api/v1/windows/1", headers=bearer).json()["state"]


def test_a_page_on_another_port_cannot_pause_a_window_or_sign_the_browser_in(served, evil, artifacts):
    from playwright.sync_api import expect, sync_playwright

    base, db = served
    evil_base, pages = evil
    pages.update(evil_pages(base, token(db, "admin")))
    watcher = {"Authorization": f"Bearer {token(db, 'supervisor')}"}  # reads the hall, changes nothing

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page = context.new_page()
            page.goto(f"{base}/clerk")
            page.select_option("#window", "1")
            page.fill("#clerk", "1001")
            page.fill("#pin", "1001")
            page.locator("#pin-form button[type=submit]").click()
            expect(page.locator("#who")).to_contain_text("张三")
            assert any(c["name"] == "queued_clerk" for c in context.cookies())

            other = context.new_page()
            other.goto(f"{evil_base}/fetch")
            expect(other).to_have_title("sent")
            other.wait_for_timeout(300)
            assert window_state(base, watcher) == "idle"

            other.goto(f"{evil_base}/form")
            other.wait_for_url(f"{base}/api/v1/windows/1/pause")
            expect(other.get_by_role("heading", name="请求来源不明，已拒绝")).to_be_visible()
            other.screenshot(path=str(artifacts / "cross-site-refused.png"), full_page=True)
            assert window_state(base, watcher) == "idle"

            other.goto(f"{evil_base}/login")
            other.wait_for_url(f"{base}/admin/login")
            expect(other.get_by_role("heading", name="请求来源不明，已拒绝")).to_be_visible()
            assert not any(c["name"] == "queued_admin" for c in context.cookies())
            other.goto(f"{base}/admin")
            expect(other.get_by_role("heading", name="督查员 / 管理员登录")).to_be_visible()

            # The console itself (same origin) still pauses and resumes.
            page.bring_to_front()
            page.keyboard.press("F7")  # 暂停 asks for the reason where the hall lists pause reasons
            reasons = page.locator("#pause-reasons button")
            if reasons.count():
                reasons.first.click()
            expect(page.locator("#state")).to_have_text("暂停服务")
            assert window_state(base, watcher) == "paused"

            phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                        is_mobile=True, device_scale_factor=2)
            p2 = phone.new_page()
            p2.goto(f"{evil_base}/login")
            p2.wait_for_url(f"{base}/admin/login")
            expect(p2.get_by_role("heading", name="请求来源不明，已拒绝")).to_be_visible()
            p2.screenshot(path=str(artifacts / "cross-site-refused-phone.png"), full_page=True)
        finally:
            browser.close()
