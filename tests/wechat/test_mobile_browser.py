"""/m and /m/t/{id} in headless Chromium against a real `queued serve` (demo hall, no WeChat):
a ticket taken at /kiosk is followed on the phone until a clerk calls it, then rated; and a
citizen signs in (演示), takes a number, is refused a second one, cancels, and books a slot."""

from __future__ import annotations

import httpx
import pytest

from tests.pages import check_page, english_words
from tests.support import launch_chromium, serve_hall, token

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    """One `queued serve` for the module (it takes seconds to start); the tests use different businesses."""
    proc, base, db = serve_hall(tmp_path_factory.mktemp("mobile"), extra="\n[wechat]\ndemo_login = true\n")
    yield base, db
    proc.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        pw.selectors.set_test_id_attribute("data-testid")
        yield b
        b.close()


def bearer(db, role, window=None, clerk=None) -> dict:
    return {"Authorization": f"Bearer {token(db, role, window, clerk)}"}


def take_at_kiosk(browser, base, db) -> tuple[str, str]:
    """Take an A ticket on the kiosk's touch screen; its QR code leads to /m/t/{id}#k={rating key}:
    returns the number and the part after /m/t/."""
    page = browser.new_page(viewport={"width": 1080, "height": 1920}, locale="zh-CN")
    page.goto(f"{base}/kiosk?token={token(db, 'kiosk')}")
    page.get_by_test_id("business-A").click()
    number = page.get_by_test_id("ticket-number").inner_text().strip()
    url = page.get_by_test_id("ticket-qr").get_attribute("data-url")
    assert url and "/m/t/" in url
    page.close()
    return number, url.rsplit("/m/t/", 1)[1]


def test_follow_a_kiosk_ticket_until_called_then_rate(hall, browser, artifacts):
    from playwright.sync_api import expect

    base, db = hall
    kiosk, clerk = bearer(db, "kiosk"), bearer(db, "clerk", "1", "1001")
    for _ in range(2):
        assert httpx.post(f"{base}/api/v1/tickets", json={"business": "A"}, headers=kiosk).status_code == 201
    number, link = take_at_kiosk(browser, base, db)
    assert number == "A003"
    ticket_id, _, key = link.partition("#k=")
    assert key

    phone = browser.new_context(**PHONE).new_page()
    phone.set_default_timeout(10000)
    phone.goto(f"{base}/m/t/{link}")  # the QR code's link, key and all
    card = phone.get_by_test_id("ticket")
    expect(card.get_by_test_id("ticket-number")).to_have_text("A003")
    expect(card.get_by_test_id("ticket-status")).to_have_text("等候中")
    expect(card.get_by_test_id("ticket-ahead")).to_have_text("前面还有 2 人")
    # No window open yet: no minutes promised.
    expect(card.get_by_test_id("ticket-eta")).to_have_text("窗口开始办理后依次叫号")
    phone.screenshot(path=str(artifacts / "mobile-waiting.png"))

    def window1(action):
        r = httpx.post(f"{base}/api/v1/windows/1/{action}", headers=clerk)
        assert r.status_code == 200, r.text
        return r.json()

    assert window1("call-next")["ticket"]["number"] == "A001"
    expect(card.get_by_test_id("ticket-ahead")).to_have_text("前面还有 1 人")  # the page polls by itself
    expect(card.get_by_test_id("ticket-eta")).to_contain_text("分钟")  # window 1 is open now
    window1("finish")
    assert window1("call-next")["ticket"]["number"] == "A002"
    window1("finish")
    assert window1("call-next")["ticket"]["number"] == "A003"
    expect(card.get_by_test_id("ticket-status")).to_have_text("正在叫您的号")
    expect(card.get_by_test_id("ticket-window")).to_have_text("请到 1号窗口 办理")
    expect(card).to_have_attribute("data-status", "called")
    phone.screenshot(path=str(artifacts / "mobile-called.png"))

    case = window1("finish")["finished"]["case"]
    # Someone who only knows the ticket id (a clerk's reply shows it) gets no rating form.
    stranger = browser.new_context(**PHONE).new_page()
    stranger.goto(f"{base}/m/t/{ticket_id}")
    expect(stranger.get_by_test_id("rating-holder-only")).to_have_text("请扫描号票上的二维码，或在取号的微信中评价。")
    expect(stranger.get_by_test_id("rate-submit")).to_have_count(0)
    stranger.screenshot(path=str(artifacts / "mobile-not-holder.png"))
    stranger.close()
    rating = card.get_by_test_id("rating")
    expect(rating).to_be_visible()
    expect(rating.get_by_text("服务态度差")).to_be_hidden()  # reasons only for 差评
    rating.get_by_test_id("rate-2").click()
    rating.get_by_text("办事效率低").click()
    rating.locator("textarea").fill("等了很久")
    rating.get_by_test_id("rate-submit").click()
    expect(card.get_by_test_id("rating-done")).to_have_text("感谢您的评价！")
    phone.screenshot(path=str(artifacts / "mobile-rated.png"))
    again = httpx.post(f"{base}/api/v1/ratings", json={"ticket": ticket_id, "key": key, "level": 5})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    review = httpx.get(f"{base}/api/v1/reviews/{case}", headers=bearer(db, "supervisor")).json()
    assert (review["level"], review["channel"]) == (2, "qr")
    assert isinstance(case, int)


def test_demo_sign_in_take_cancel_and_book(hall, browser, artifacts):
    from playwright.sync_api import expect

    base, db = hall
    phone = browser.new_context(**PHONE).new_page()
    phone.set_default_timeout(10000)
    phone.on("dialog", lambda d: d.accept())  # confirm() of cancel and booking
    phone.goto(f"{base}/m")
    expect(phone.get_by_test_id("demo-badge")).to_have_text("演示模式")
    phone.get_by_test_id("demo-login").click()
    expect(phone.get_by_test_id("take-B")).to_be_enabled()
    expect(phone.get_by_test_id("take-C")).to_contain_text("等候 0 人")

    phone.get_by_test_id("take-B").click()
    expect(phone.get_by_test_id("take-msg")).to_have_text("取号成功：B001，您是下一位")
    card = phone.get_by_test_id("ticket")
    expect(card.get_by_test_id("ticket-number")).to_have_text("B001")
    expect(card.get_by_test_id("ticket-status")).to_have_text("等候中")
    phone.get_by_test_id("take-B").click()
    expect(phone.get_by_test_id("take-msg")).to_contain_text("B001")  # 已有…的号 B001 在等候
    expect(phone.get_by_test_id("take-msg")).to_have_class("msg err")
    refusal = phone.get_by_test_id("take-msg").inner_text()
    assert not english_words(refusal), refusal  # not "（Already holding B001.）"
    check_page(phone, artifacts, "mobile-home", citizen=True, allowed_words=("B001",), full_page=True)

    card.get_by_test_id("cancel").click()
    expect(card.get_by_test_id("ticket-status")).to_have_text("已取消")
    ticket = httpx.get(f"{base}/api/v1/hall").json()
    assert [b["waiting"] for b in ticket["businesses"] if b["code"] == "B"] == [0]

    # 分时段预约: the next working day always has free slots, whatever the hour now
    booking = phone.locator("#booking")
    if booking.count():
        day_select = phone.get_by_test_id("book-day")
        expect(day_select.locator("option").nth(1)).to_be_attached()
        day = day_select.locator("option").nth(1).get_attribute("value")
        day_select.select_option(day)
        slot = phone.get_by_test_id("slot-09:00")
        expect(slot).to_be_enabled()
        slot.click()
        expect(phone.get_by_test_id("book-msg")).to_contain_text(f"预约成功：{day} 09:00")
        appt = phone.get_by_test_id("appointment")
        expect(appt).to_have_attribute("data-status", "booked")
        expect(appt.get_by_test_id("appt-code")).to_contain_text("签到码")
        phone.screenshot(path=str(artifacts / "mobile-booked.png"), full_page=True)
        appt.get_by_test_id("appt-cancel").click()
        expect(phone.get_by_test_id("appointment")).to_have_count(0)
