"""The gallery: every HTML page a hall's `queued serve` shows, at the sizes people use it at, over one
hall in a mid-day state, in one headless Chromium. Each page is screenshot to
test-artifacts/gallery/<page>-<viewport>.png and checked as a person would see it (tests/pages.py:
no text outside its box, no English in text citizens read), plus at least one thing its user looks
for (the called number and window on the hall screen, the 差评 on the follow-up list, ...).

The hall (one daemon, set up through the public API before any page is opened):
- 1号窗口 calling, 2号 and 4号 serving (4号 also holds a 挂起 ticket), 3号 paused for 就餐, 5号 (a
  long window name) signed in and idle; tickets waiting in all three businesses;
- a 办不成 case (its note in the 问题台账), a served case not yet rated;
- served cases rated 5, 4 and a 差评 (1, with reasons and a comment) that was called back and
  rectified, so the 二次评价 SMS (a local fake Aliyun SMS server) carried a /r/{token} link;
- a citizen signed in on /m (演示登录) holding a ticket and a booking for the next day.

The central service's /city pages need a PostgreSQL cluster and are shot by tests/central/test_pages.py.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.evaluator_admin.test_admin_charts_browser import GEOMETRY_JS, at_value
from tests.followup.conftest import KEY_ID, SIGN_NAME, TEMPLATE
from tests.followup.fake_aliyun_sms import SECRET, FakeAliyunSms
from tests.pages import VIEWPORTS, check_page
from tests.support import ARTIFACTS, AUTOPLAY, ServeProcess, free_port, hall_toml, launch_chromium, token

pytestmark = pytest.mark.browser

GALLERY = ARTIFACTS / "gallery"
PHONE = "13905716666"
PHONE_CONTEXT = {"viewport": VIEWPORTS["phone"], "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
                 "locale": "zh-CN"}
NOTICE = "温馨提示：请按叫号顺序到窗口办理；过号请到导办台重新排队；大厅提供免费复印、饮水和轮椅服务。"


def config(db: Path, port: int, sms: FakeAliyunSms) -> str:
    extra = (
        '\n[[window]]\nid = "4"\nbusinesses = ["A", "B"]\n'
        '\n[[window]]\nid = "5"\nname = "综合受理（跨省通办）窗口"\nbusinesses = ["A"]\n'
        f'\n[screen]\nnotice = "{NOTICE}"\n'
        "\n[wechat]\ndemo_login = true\n"
        f'\n[sms]\nendpoint = "{sms.url}"\naccess_key_id = "{KEY_ID}"\nsign_name = "{SIGN_NAME}"\n'
        f'template_code = "{TEMPLATE}"\n'
    )
    return hall_toml(str(db), http_port=port, extra=extra)


class Hall:
    """The served hall and the API calls that set it up (each asserted: a refusal here is a bug)."""

    def __init__(self, base: str, db: str):
        self.base, self.db = base, db
        self.http = httpx.Client(base_url=base, timeout=10)
        self.keys: dict[str, str] = {}  # ticket id → rating key (what its QR code carries)
        self.called: dict[str, str] = {}  # window → the number it called last

    def bearer(self, role: str, window: str | None = None, clerk: str | None = None) -> dict:
        return {"Authorization": f"Bearer {token(self.db, role, window, clerk)}"}

    def issue(self, business: str) -> dict:
        r = self.http.post("/api/v1/tickets", json={"business": business}, headers=self.bearer("kiosk"))
        assert r.status_code == 201, r.text
        self.keys[r.json()["id"]] = r.json()["rating_key"]
        return r.json()

    def act(self, window: str, action: str, body: dict | None = None) -> dict:
        clerk = {"1": "1001", "2": "1002"}.get(window)
        r = self.http.post(f"/api/v1/windows/{window}/{action}", json=body,
                           headers=self.bearer("clerk", window, clerk))
        assert r.status_code == 200, r.text
        if action == "call-next":
            self.called[window] = r.json()["ticket"]["number"]
        return r.json()

    def serve_and_rate(self, window: str, level: int, reasons: list[int] | None = None, comment: str = "",
                       phone: str | None = None) -> tuple[dict, int | None]:
        ticket = self.act(window, "call-next")["ticket"]
        case = None
        if phone:
            r = self.http.post(f"/api/v1/windows/{window}/cases", headers=self.bearer("integration"),
                               json={"project_no": "330100202612010001", "applicant": {"name": "王小明", "phone": phone}})
            assert r.status_code == 201, r.text
            case = r.json()["case"]
        self.act(window, "finish")
        r = self.http.post("/api/v1/ratings", json={"ticket": ticket["id"], "key": self.keys[ticket["id"]],
                                                    "level": level, "reasons": reasons or [], "comment": comment})
        assert r.status_code == 201, r.text
        return ticket, r.json().get("case", case)


def wait(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gallery")
    sms = FakeAliyunSms().start()
    port = free_port()
    db = tmp / "hall.sqlite3"
    conf = tmp / "hall.toml"
    conf.write_text(config(db, port, sms), encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    proc = ServeProcess(conf, tmp, {"QUEUED_SMS_ACCESS_KEY_SECRET": SECRET}).start(base)
    try:
        h = Hall(base, str(db))
        # The morning: three cases rated, one of them a 差评 that was called back and rectified.
        for b in "AAB":
            h.issue(b)
        h.issue("C")
        _, bad = h.serve_and_rate("1", 1, [1, 2], "等了一个多小时，窗口只开了一个", phone=PHONE)
        h.serve_and_rate("2", 5)
        h.serve_and_rate("1", 4)
        h.serve_and_rate("3", 5)
        supervisor = h.bearer("supervisor")
        r = h.http.post(f"/api/v1/followups/{bad}/callback", headers=supervisor,
                        json={"contacted": True, "note": "已电话致歉，群众表示理解"})
        assert r.status_code == 200, r.text
        r = h.http.post(f"/api/v1/followups/{bad}/rectify", headers=supervisor,
                        json={"mode": "immediate", "note": "高峰时段增开一个综合窗口"})
        assert r.status_code == 200, r.text
        wait(lambda: len(sms.sent) == 1)
        h.recheck = sms.sent[0]["values"]["token"]
        h.bad_case = bad
        # Now: people waiting in every business, windows in every state.
        h.waiting = [h.issue(b) for b in "AAAAABBBCCA"]
        h.act("3", "pause", {"reason": "就餐"})
        h.act("4", "call-next")
        h.act("4", "start")
        h.act("4", "park")
        h.act("4", "call-next")
        h.act("4", "start")
        h.act("2", "call-next")
        h.act("2", "start")
        h.act("5", "sign-in", {"clerk": "1002", "pin": "1002"})
        h.unrated = h.act("1", "call-next")["ticket"]  # served, its holder yet to rate it
        h.act("1", "finish")
        h.failed = h.act("1", "call-next")["ticket"]  # 办不成: the 问题台账 lists it
        h.act("1", "finish", {"outcome": "failed", "note": "缺少不动产权证书原件，系统无法核验"})
        h.act("1", "call-next")  # the call the hall screen shows largest
        yield h
    finally:
        proc.stop()
        sms.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    GALLERY.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        pw.selectors.set_test_id_attribute("data-testid")
        b = launch_chromium(pw, AUTOPLAY)  # as the hall's screen PC is started (docs/screens.md)
        yield b
        b.close()
    write_index()


def write_index() -> None:
    """test-artifacts/gallery/index.html: every picture of this run, named by page and size."""
    rows = []
    for png in sorted(GALLERY.glob("*.png")):
        page, _, viewport = png.stem.rpartition("-")
        for name in sorted(VIEWPORTS, key=len, reverse=True):  # "kiosk-portrait" is one viewport
            if png.stem.endswith("-" + name):
                page, viewport = png.stem[: -len(name) - 1], name
                break
        size = VIEWPORTS.get(viewport, {})
        rows.append(f'<figure><figcaption>{page} · {viewport} {size.get("width")}×{size.get("height")}</figcaption>'
                    f'<a href="{png.name}"><img src="{png.name}" loading="lazy"></a></figure>')
    (GALLERY / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>page gallery</title><style>body{font-family:sans-serif}'
        "figure{display:inline-block;margin:8px;vertical-align:top}img{max-width:480px;max-height:480px;"
        'border:1px solid #ccc}</style><h1>Page gallery</h1>' + "".join(rows), encoding="utf-8")


def shoot(page, name: str, viewport: str, citizen: bool = False, full_page: bool = False, **kw) -> Path:
    """The gallery's picture of `page` (it must already be at `viewport`), checked as a person sees it."""
    size = page.viewport_size
    assert (size["width"], size["height"]) == (VIEWPORTS[viewport]["width"], VIEWPORTS[viewport]["height"])
    return check_page(page, GALLERY, f"{name}-{viewport}", citizen=citizen, full_page=full_page, **kw)


# Texts of one kind in the daily chart (the x-axis days, "无评价", the rates, the counts) that touch
# their neighbour: a row of labels run together ("11/0211/03") reads as none.
TOUCHING_JS = """
() => {
  const out = [];
  for (const cls of ['x-label', 'v-rate-none', 'v-rate', 'v-count']) {
    const boxes = [...document.querySelectorAll('#by-day svg.day-chart text.' + cls)]
      .map(t => ({text: t.textContent, r: t.getBoundingClientRect()})).sort((a, b) => a.r.left - b.r.left);
    for (let i = 1; i < boxes.length; i++)
      if (boxes[i].r.left < boxes[i - 1].r.right + 2) out.push(cls + ': ' + boxes[i - 1].text + '|' + boxes[i].text);
  }
  return out;
}
"""

# Table cells whose text wrapped onto more lines than one (a window name broken "1号/窗/口").
WRAPPED_CELLS_JS = """
() => [...document.querySelectorAll('td, th')].filter(c => c.innerText.trim() &&
  c.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(c).fontSize) * 1.25 + 14)
  .map(c => c.innerText.trim())
"""


def font_px(page, selector: str) -> float:
    return page.evaluate(f"parseFloat(getComputedStyle(document.querySelector({selector!r})).fontSize)")


def new_page(browser, viewport: str, **kw):
    page = browser.new_page(viewport=VIEWPORTS[viewport], locale="zh-CN", **kw)
    page.set_default_timeout(10000)
    return page


def test_hall_screen_at_1080p_and_4k(hall, browser):
    from playwright.sync_api import expect

    for vp in ("tv-1080p", "tv-4k"):
        page = new_page(browser, vp)
        page.goto(f"{hall.base}/screen")
        expect(page.locator("#link")).to_have_text("连接正常")
        expect(page.locator("#now-ticket")).to_have_text(hall.called["1"])
        expect(page.locator("#now-where")).to_have_text("请到 1号窗口 办理")
        grid = page.get_by_test_id("grid")
        expect(grid.locator('[data-window="1"]')).to_contain_text("呼叫中")
        expect(grid.locator('[data-window="2"]')).to_contain_text(hall.called["2"])
        expect(grid.locator('[data-window="2"]')).to_contain_text("办理中")
        expect(grid.locator('[data-window="3"]')).to_contain_text("就餐")
        expect(grid.locator('[data-window="5"]')).to_contain_text("空闲")
        expect(page.locator("#waiting")).to_contain_text("不动产登记")
        expect(page.locator("body")).to_contain_text("温馨提示")
        height = VIEWPORTS[vp]["height"]
        # read from 10 m (docs/screens.md), on the 4K TV as on the 1080p one
        assert font_px(page, "#now-ticket") >= height / 6 and font_px(page, ".card .ticket") >= height * 0.06
        assert font_px(page, "#waiting .name") >= height * 0.044 and font_px(page, ".card .label") >= height * 0.03
        time.sleep(4.5)  # the call's flash is over: what the hall sees most of the time
        shoot(page, "screen", vp, citizen=True)
        page.close()


def test_window_lcd(hall, browser):
    from playwright.sync_api import expect

    page = new_page(browser, "tv-1080p")
    for w, state in (("1", f"请 {hall.called['1']} 号到本窗口"), ("3", "暂停服务"), ("5", "欢迎光临")):
        page.goto(f"{hall.base}/screen/window/{w}")
        expect(page.locator("#state")).to_have_text(state)
        shoot(page, f"screen-window-{w}", "tv-1080p", citizen=True)
    page.close()


def test_kiosk_portrait_landscape_elder_and_ticket(hall, browser):
    from playwright.sync_api import expect

    kiosk = token(hall.db, "kiosk")
    for vp in ("kiosk-portrait", "kiosk-landscape"):
        page = new_page(browser, vp)
        page.goto(f"{hall.base}/kiosk")
        expect(page.get_by_test_id("kiosk-login")).to_be_visible()
        shoot(page, "kiosk-login", vp, citizen=False)
        page.get_by_test_id("kiosk-token").fill(kiosk)
        page.get_by_test_id("kiosk-login-submit").click()
        expect(page.get_by_test_id("business-B")).to_be_enabled()
        expect(page.get_by_test_id("name-B")).to_have_text("不动产登记")
        shoot(page, "kiosk", vp, citizen=True)
        page.get_by_test_id("business-B").click()
        number = page.get_by_test_id("ticket-number")
        expect(number).to_have_text(re.compile(r"^B\d{3}$"))
        expect(page.get_by_test_id("ticket-windows")).to_contain_text("号窗口")
        shoot(page, "kiosk-ticket", vp, citizen=True)
        page.goto(f"{hall.base}/kiosk?elder=1")
        expect(page.get_by_test_id("kiosk-title")).to_have_text("请点击您要办理的业务")
        shoot(page, "kiosk-elder", vp, citizen=True)
        page.get_by_test_id("business-A").click()  # (社保医保 has 5 a day: /m takes the last)
        expect(page.get_by_test_id("ticket-number")).to_have_text(re.compile(r"^A\d{3}$"))
        expect(page.get_by_test_id("say-again")).to_be_visible()  # 再听一遍: the spoken guidance again
        shoot(page, "kiosk-elder-ticket", vp, citizen=True)
        page.close()
    page = new_page(browser, "kiosk-landscape")
    page.goto(f"{hall.base}/kiosk?mode=desk&token={token(hall.db, 'admin')}")
    expect(page.get_by_test_id("desk-mode")).to_be_visible()
    shoot(page, "kiosk-desk", "kiosk-landscape", citizen=False)
    page.close()


def test_phone_signed_in_with_a_ticket_and_a_booking(hall, browser):
    from playwright.sync_api import expect

    ctx = browser.new_context(**PHONE_CONTEXT)
    page = ctx.new_page()
    page.set_default_timeout(10000)
    page.goto(f"{hall.base}/m")
    # (the demo sign-in names the config key it lacks: an installer reads it, no citizen ever does)
    shoot(page, "m-signin", "phone", citizen=True, full_page=True, allowed_words=("wechat", "appid"))
    page.get_by_test_id("demo-login").click()
    expect(page.get_by_test_id("take-C")).to_be_enabled()
    page.get_by_test_id("take-C").click()
    expect(page.get_by_test_id("take-msg")).to_contain_text("取号成功")
    card = page.get_by_test_id("ticket")
    expect(card.get_by_test_id("ticket-status")).to_have_text("等候中")
    expect(card.get_by_test_id("ticket-ahead")).to_contain_text("前面还有")
    if page.locator("#booking").count():
        day_select = page.get_by_test_id("book-day")
        day = day_select.locator("option").nth(1).get_attribute("value")
        day_select.select_option(day)
        page.on("dialog", lambda d: d.accept())
        page.get_by_test_id("slot-09:00").click()
        expect(page.get_by_test_id("appointment")).to_have_attribute("data-status", "booked")
    shoot(page, "m", "phone", citizen=True, full_page=True)
    ctx.close()

    waiting = hall.waiting[-1]  # (the first is 挂起 at 4号窗口)
    page = browser.new_context(**PHONE_CONTEXT).new_page()
    page.goto(f"{hall.base}/m/t/{waiting['id']}#k={hall.keys[waiting['id']]}")
    expect(page.get_by_test_id("ticket-number")).to_have_text(waiting["number"])
    expect(page.get_by_test_id("ticket-status")).to_have_text("等候中")
    shoot(page, "m-ticket", "phone", citizen=True, full_page=True)
    parked = hall.waiting[0]  # 挂起 at 4号窗口 (容缺: the citizen fetches a missing paper)
    page.goto(f"{hall.base}/m/t/{parked['id']}#k={hall.keys[parked['id']]}")
    expect(page.get_by_test_id("ticket-status")).to_have_text("已挂起")
    expect(page.get_by_test_id("ticket-window")).to_contain_text("材料补齐后请回到 4号窗口")
    shoot(page, "m-parked", "phone", citizen=True, full_page=True)
    page.goto(f"{hall.base}/r/{hall.recheck}")
    expect(page.locator("body")).to_contain_text("高峰时段增开一个综合窗口")
    shoot(page, "recheck", "phone", citizen=True, full_page=True)
    page.goto(f"{hall.base}/results")
    expect(page.locator("tr.last")).to_contain_text("1号窗口")  # 50.0%: this month's last place
    expect(page.locator("tr.last")).to_contain_text("本月末位")
    assert page.evaluate(WRAPPED_CELLS_JS) == []
    shoot(page, "results", "phone", citizen=True, full_page=True)
    page.context.close()


def test_citizen_rating_and_refusals(hall, browser):
    """The rating form of a served ticket, and what a citizen sees for a link that leads nowhere."""
    from playwright.sync_api import expect

    t = hall.unrated
    page = browser.new_context(**PHONE_CONTEXT).new_page()
    page.goto(f"{hall.base}/m/t/{t['id']}#k={hall.keys[t['id']]}")
    expect(page.get_by_test_id("ticket-number")).to_have_text(t["number"])
    expect(page.get_by_test_id("rate-5")).to_be_visible()
    page.get_by_test_id("rate-2").click()
    expect(page.get_by_text("服务态度差")).to_be_visible()  # the reasons, offered for a 差评
    shoot(page, "m-rate", "phone", citizen=True, full_page=True)
    page.goto(f"{hall.base}/m/t/no-such-ticket")
    expect(page.locator("body")).to_contain_text("没有找到这张票")
    shoot(page, "m-missing", "phone", citizen=True)
    page.goto(f"{hall.base}/r/no-such-link")
    expect(page.locator("body")).to_contain_text("链接无效")
    shoot(page, "recheck-invalid", "phone", citizen=True)
    page.context.close()
    page = new_page(browser, "tv-1080p")
    page.goto(f"{hall.base}/screen/window/99")
    expect(page.get_by_role("heading", name="没有这个窗口")).to_be_visible()
    shoot(page, "screen-window-missing", "tv-1080p")
    page.close()


def test_clerk_console(hall, browser):
    from playwright.sync_api import expect

    page = new_page(browser, "clerk")
    page.goto(f"{hall.base}/clerk")
    expect(page.locator("#pin-form")).to_be_visible()
    shoot(page, "clerk-login", "clerk")
    page.select_option("#window", "1")
    page.fill("#clerk", "1001")
    page.fill("#pin", "1001")
    page.locator("#pin-form button[type=submit]").click()
    expect(page.locator("#who")).to_contain_text("张三")
    expect(page.locator("#ticket")).to_have_text(hall.called["1"])
    expect(page.locator("#state")).to_have_text("呼叫中")
    shoot(page, "clerk", "clerk")
    page.close()
    page = new_page(browser, "clerk")  # 4号窗口, signed in with its token: serving, one case 挂起
    page.goto(f"{hall.base}/clerk")
    page.fill("#token", token(hall.db, "clerk", "4"))
    page.locator("#token-form button[type=submit]").click()
    expect(page.locator("#state")).to_have_text("办理中")
    expect(page.locator("#parked")).to_contain_text(hall.waiting[0]["number"])
    shoot(page, "clerk-parked", "clerk")
    page.close()


def test_admin_pages(hall, browser):
    from playwright.sync_api import expect

    page = new_page(browser, "admin")
    page.goto(f"{hall.base}/")
    expect(page.locator("body")).to_contain_text("叫号屏")
    shoot(page, "home", "admin")
    page.goto(f"{hall.base}/admin")
    expect(page.get_by_role("heading", name="督查员 / 管理员登录")).to_be_visible()
    shoot(page, "admin-login", "admin")
    page.fill("input[name=token]", token(hall.db, "admin"))
    page.click("button[type=submit]")
    page.wait_for_url("**/admin")
    expect(page.get_by_role("heading", name="窗口状态")).to_be_visible()
    expect(page.locator('tr[data-window="3"]')).to_contain_text("就餐")
    expect(page.locator('tr[data-window="4"] td').nth(2)).to_contain_text("挂起 A")  # with the ticket in hand
    shoot(page, "admin", "admin", full_page=True)
    page.goto(f"{hall.base}/admin/reviews")
    expect(page.locator(".cards")).to_contain_text("75.0%")  # 3 good of 4 rated
    geo = page.evaluate(GEOMETRY_JS)
    assert len(geo["days"]) == 30 and geo["outside"] == []  # the last 30 days, every one in its place
    [today] = [d for d in geo["days"] if d["rated"]]
    assert (today["rated"], today["bad"], today["count"]["text"]) == (4, 1, "4")
    assert abs(today["top"] - at_value(geo["grid_count"], 4)) < 1.0  # as high as the "4件" line
    assert [t["text"] for t in geo["ticks_count"]] == ["0件", "1件", "2件", "3件", "4件"]
    assert [r["text"] for r in geo["rates"]] == ["75%"]  # printed, not only on hover
    assert page.evaluate(TOUCHING_JS) == []
    shoot(page, "admin-reviews", "admin", full_page=True)
    page.goto(f"{hall.base}/admin/followups")
    expect(page.locator("table")).to_contain_text("139****6666")
    shoot(page, "admin-followups", "admin", full_page=True)
    page.goto(f"{hall.base}/admin/followups/{hall.bad_case}")
    expect(page.locator("body")).to_contain_text("已电话致歉，群众表示理解")
    expect(page.get_by_test_id("recheck-state")).to_contain_text("已发送")
    shoot(page, "admin-followup", "admin", full_page=True)
    page.goto(f"{hall.base}/admin/failed")
    expect(page.locator("table")).to_contain_text(hall.failed["number"])
    expect(page.locator("table")).to_contain_text("缺少不动产权证书原件")
    shoot(page, "admin-failed", "admin", full_page=True)
    page.goto(f"{hall.base}/admin/province")
    expect(page.locator("header.bar nav a.on")).to_be_visible()
    shoot(page, "admin-province", "admin", full_page=True)
    page.goto(f"{hall.base}/admin/planner")
    expect(page.get_by_role("heading", name="排班测算：每半小时最少开几个窗口")).to_be_visible()
    shoot(page, "admin-planner", "admin", full_page=True)
    page.goto(f"{hall.base}/results")
    expect(page.locator("body")).to_contain_text("1号窗口")
    shoot(page, "results", "admin", citizen=True, full_page=True)
    page.close()
