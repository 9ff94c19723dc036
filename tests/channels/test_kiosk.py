"""/kiosk as the server renders it: sign-in, the business buttons (open, closed with hours, full),
taking a number, the confirmation with its QR code, the guide desk, appointment check-in."""

from __future__ import annotations

import dataclasses
import re

import pytest

CLOSED_D = '\n[[business]]\ncode = "D"\nname = "税务办理"\nhours = ["13:30-17:00"]\n\n[[window]]\nid = "4"\nbusinesses = ["D"]\n'


async def signed_in(h, role="kiosk", mode=""):
    token = h.tokens[role]["Authorization"].split()[1]
    r = await h.api.get("/kiosk", params={"token": token, **({"mode": mode} if mode else {})})
    assert r.status_code == 303 and "token" not in r.headers["location"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/kiosk" in cookie and "samesite=strict" in cookie.lower()
    return r


def button(html: str, code: str) -> str:
    m = re.search(rf'<button[^>]*data-testid="business-{code}".*?</button>', html, re.S)
    assert m, f"no button for {code}"
    return m.group(0)


@pytest.fixture
async def h(make_hall):
    return await make_hall(extra=CLOSED_D)


async def test_without_a_token_the_kiosk_asks_for_one(h):
    r = await h.api.get("/kiosk")
    assert r.status_code == 200 and 'data-testid="kiosk-login"' in r.text and "business-A" not in r.text
    r = await h.api.get("/kiosk", params={"token": "qd_wrong"})
    assert r.status_code == 401 and "令牌无效" in r.text
    clerk = h.tokens["clerk1"]["Authorization"].split()[1]
    r = await h.api.post("/kiosk/login", data={"token": clerk})
    assert r.status_code == 401  # a clerk may not issue tickets
    r = await h.api.post("/kiosk/take", data={"business": "A"})
    assert r.status_code == 303 and h.daemon.runtime.engine.counters["A"] == 0


async def test_start_screen_names_the_businesses_and_their_state(h):
    await signed_in(h)
    for _ in range(5):  # C has a daily cap of 5
        await h.api.post("/api/v1/tickets", json={"business": "C"}, headers=h.tokens["kiosk"])
    r = await h.api.get("/kiosk")
    assert r.status_code == 200
    html = r.text
    assert "高新区政务服务中心" in html
    for name in ("综合受理", "不动产登记", "社保医保", "税务办理"):
        assert name in html
    a = button(html, "A")
    assert 'data-state="open"' in a and "disabled" not in a and "等候 0 人" in a
    d = button(html, "D")
    assert 'data-state="closed"' in d and "disabled" in d and "取号时间 13:30-17:00" in d
    c = button(html, "C")
    assert 'data-state="full"' in c and "disabled" in c and "已取完" in c
    assert "导办台" not in html.split("<main", 1)[1].split("</h2>", 1)[0]


async def test_taking_a_number_shows_the_confirmation(h):
    await signed_in(h)
    await h.api.post("/api/v1/tickets", json={"business": "A"}, headers=h.tokens["kiosk"])
    r = await h.api.post("/kiosk/take", data={"business": "A"})
    assert r.status_code == 303
    page = await h.api.get(r.headers["location"])
    html = page.text
    tid = r.headers["location"].rsplit("/", 1)[1]
    assert h.daemon.runtime.engine.tickets[tid].channel == "kiosk"
    assert re.search(r'data-testid="ticket-number">A002<', html)
    assert 'data-testid="ticket-wait">前面还有 1 人<' in html
    # No window of A is open yet: no minutes are promised (the engine's estimate assumes one).
    assert 'data-testid="ticket-wait">窗口开始办理后依次叫号<' in html and "分钟" not in html.split("ticket-wait")[-1][:80]
    # A is served at windows 1 and 2 (none open yet: both named); no printer here: no slip to take.
    assert 'data-testid="ticket-windows">办理窗口 <b>1号、2号窗口</b>' in html
    assert "请取走号票" not in html and "请记住您的号码" in html
    assert "取号时间 2026-11-16 10:00" in html
    # The QR code leads to the ticket's page and carries its holder's rating key (after "#k=").
    key = h.daemon.runtime.engine.tickets[tid].rating_key
    assert key and f'data-url="http://hall/m/t/{tid}#k={key}"' in html and "<svg" in html
    assert 'http-equiv="refresh" content="15;url=/kiosk"' in html
    # Staff who open the page later (the id is in their replies) get a QR code without the key.
    h.clock.advance(180)
    later = (await h.api.get(r.headers["location"])).text
    assert f'data-url="http://hall/m/t/{tid}"' in later and key not in later


async def test_refusals_are_shown_on_the_start_screen(h):
    await signed_in(h)
    r = await h.api.post("/kiosk/take", data={"business": "D"})
    assert r.status_code == 409 and 'data-testid="kiosk-error"' in r.text and "13:30-17:00" in r.text
    r = await h.api.post("/kiosk/take", data={"business": "Q"})
    assert r.status_code == 404 and "没有业务" in r.text
    assert sum(h.daemon.runtime.engine.counters.values()) == 0


async def test_public_url_leads_the_qr_code(make_hall):
    h = await make_hall(extra="")
    kiosk = h.daemon.adapter("Kiosk")
    kiosk.config = dataclasses.replace(kiosk.config, public_url="https://q.example.cn")
    h.api.base_url = "https://hall"  # behind https the kiosk's cookie is Secure: sent over https only
    h.api.headers["Origin"] = "https://hall"
    await signed_in(h)
    r = await h.api.post("/kiosk/take", data={"business": "B"})
    page = await h.api.get(r.headers["location"])
    assert 'data-url="https://q.example.cn/m/t/' in page.text


async def test_guide_desk_issues_green_channel_tickets(h):
    await signed_in(h, "kiosk", mode="desk")
    r = await h.api.get("/kiosk", params={"mode": "desk"})
    assert "导办台模式需要管理员令牌" in r.text and 'data-testid="green-channel"' not in r.text
    await signed_in(h, "admin", mode="desk")
    r = await h.api.get("/kiosk", params={"mode": "desk"})
    assert 'data-testid="green-channel"' in r.text and "导办台" in r.text
    await h.api.post("/api/v1/tickets", json={"business": "A"}, headers=h.tokens["kiosk"])
    r = await h.api.post("/kiosk/take", data={"business": "A", "mode": "desk", "green": "1"})
    assert r.headers["location"].endswith("?mode=desk")
    tid = r.headers["location"].split("/")[-1].split("?")[0]
    t = h.daemon.runtime.engine.tickets[tid]
    assert (t.channel, t.priority) == ("desk", "green")
    page = await h.api.get(r.headers["location"])
    # Nobody ahead and no window open: "您是下一位", never "前面还有 0 人" beside minutes of waiting.
    assert "（绿色通道）" in page.text and "您是下一位" in page.text and "前面还有 0 人" not in page.text
    assert 'content="15;url=/kiosk?mode=desk"' in page.text


async def test_appointment_check_in_at_the_kiosk(h):
    r = await h.api.post("/api/v1/appointments", json={"business": "B", "day": "2026-11-16", "start": "11:00",
                                                       "openid": "o-k"}, headers=h.tokens["kiosk"])
    code = r.json()["code"]
    await signed_in(h)
    r = await h.api.post("/kiosk/check-in", data={"code": "12"})
    assert r.status_code == 422 and "6位预约码" in r.text
    r = await h.api.post("/kiosk/check-in", data={"code": code})
    assert r.status_code == 303
    page = await h.api.get(r.headers["location"])
    assert 'data-testid="ticket-slot">预约时段 <b>11:00-11:30</b>' in page.text
    assert re.search(r'data-testid="ticket-number">B001<', page.text)
    r = await h.api.post("/kiosk/check-in", data={"code": code})
    assert r.status_code == 409 and "已签到" in r.text


def test_the_wait_never_contradicts_itself():
    from queued.channels.printing import wait_lines

    assert wait_lines(0, 300) == ["您是下一位", "窗口正在办理，约 5 分钟后叫到您"]
    assert wait_lines(0, 20) == ["您是下一位，马上叫号"]
    assert wait_lines(0, None) == ["您是下一位，马上叫号"]
    assert wait_lines(3, 301) == ["前面还有 3 人", "预计等候约 6 分钟"]
    assert wait_lines(2, 5) == ["前面还有 2 人", "预计等候约 1 分钟"]  # never "约 0 分钟"
    assert wait_lines(None, 600) == ["预计等候约 10 分钟"]
    assert wait_lines(0, 0, serving=False) == ["您是下一位", "窗口开始办理后即叫您"]  # not "马上叫号"
    assert wait_lines(4, 1200, serving=False) == ["前面还有 4 人", "窗口开始办理后依次叫号"]


async def test_open_windows_are_the_ones_named(h):
    await signed_in(h)
    r = await h.api.post("/api/v1/windows/1/sign-in", json={"clerk": "1001"}, headers=h.tokens["clerk1"])
    assert r.status_code == 200, r.text
    r = await h.api.post("/kiosk/take", data={"business": "B"})
    page = (await h.api.get(r.headers["location"])).text
    assert '办理窗口 <b>1号窗口</b>' in page  # B is served at 1 and 2; only 1 is open
    assert "您是下一位，马上叫号" in page  # window 1 is idle


async def test_each_kiosk_prints_on_its_own_printer(make_hall, tmp_path):
    from queued.auth import create_token

    east, default = tmp_path / "east.bin", tmp_path / "default.bin"
    h = await make_hall(adapters=["queued.channels.printing:TicketPrinter", "queued.channels.kiosk:Kiosk"], extra=(
        f'\n[printer]\nurl = "file://{default}"\n'
        f'\n[[kiosk]]\nlabel = "east"\nprinter = "file://{east}"\nwidth_chars = 48\n'
        '\n[[kiosk]]\nlabel = "west"\nqr = false\n'))
    db = h.daemon.config.database

    async def take(label):
        h.api.cookies.clear()
        tok = create_token(db, "kiosk", label=label)
        assert (await h.api.get("/kiosk", params={"token": tok})).status_code == 303
        r = await h.api.post("/kiosk/take", data={"business": "A"})
        tid = r.headers["location"].rsplit("/", 1)[1]
        return h.daemon.runtime.engine.tickets[tid].number, (await h.api.get(r.headers["location"])).text

    east_no, east_page = await take("east")
    west_no, west_page = await take("west")
    other_no, other_page = await take("lobby")  # not in [[kiosk]]: the [printer]
    # Other kiosk software with the east token, through the API: east's printer too.
    api_no = (await h.api.post("/api/v1/tickets", json={"business": "B"}, headers={
        "Authorization": "Bearer " + create_token(db, "kiosk", label="east")})).json()["number"]
    import asyncio
    for _ in range(200):
        if east.exists() and default.exists() and default.read_bytes().endswith(b"\x1dV\x00"):
            break
        await asyncio.sleep(0.01)
    for _ in range(200):
        if api_no.encode() in east.read_bytes():
            break
        await asyncio.sleep(0.01)
    assert east_no.encode() in east.read_bytes() and west_no.encode() not in east.read_bytes()
    assert api_no.encode() in east.read_bytes() and api_no.encode() not in default.read_bytes()
    assert other_no.encode() in default.read_bytes() and east_no.encode() not in default.read_bytes()
    assert west_no.encode() not in default.read_bytes()  # west has no printer
    assert "请取走号票" in east_page and "请取走号票" in other_page
    assert "请取走号票" not in west_page and "请记住您的号码" in west_page
    assert 'data-testid="ticket-qr"' in east_page and 'data-testid="ticket-qr"' not in west_page


def test_public_url_is_required_with_qr_codes_or_wechat():
    from queued.config import parse_config
    from queued.errors import ConfigError
    from tests.support import hall_toml

    for extra, named in (('\n[printer]\nurl = "tcp://10.0.0.9:9100"\n', r"\[printer\] url"),
                         ('\n[[kiosk]]\nlabel = "k1"\n', r"\[\[kiosk\]\] k1"),
                         ('\n[wechat]\nappid = "wx1"\nsecret = "s"\n', r"\[wechat\] appid")):
        with pytest.raises(ConfigError, match=rf"daemon.public_url \(line \d+\): is required with {named}"):
            parse_config(hall_toml("x.sqlite3", extra=extra, public_url=""))
    # No QR codes at that kiosk: no public_url needed; with one, the same file starts.
    parse_config(hall_toml("x.sqlite3", extra='\n[[kiosk]]\nlabel = "k1"\nqr = false\n', public_url=""))
    parse_config(hall_toml("x.sqlite3", extra='\n[[kiosk]]\nlabel = "k1"\n', public_url="https://q.example.cn"))
    with pytest.raises(ConfigError, match=r"kiosk\[1\].label .*used twice"):
        parse_config(hall_toml("x.sqlite3", extra='\n[[kiosk]]\nlabel = "k1"\n\n[[kiosk]]\nlabel = "k1"\n'))
    with pytest.raises(ConfigError, match="public_url .*expected http"):
        parse_config(hall_toml("x.sqlite3", public_url="hall.example.cn"))


async def test_spoken_guidance_is_for_the_kiosk_and_its_fresh_ticket(make_hall):
    import shutil

    h = await make_hall(extra=CLOSED_D)
    r = await h.api.get("/kiosk/voice/guide.wav")
    assert r.status_code == 401  # not signed in: nothing rendered for strangers
    await signed_in(h)
    page = (await h.api.get("/kiosk", params={"elder": "1"})).text
    assert 'class="kiosk elder"' in page and "business-D" not in page  # closed now: not shown in 适老化 mode
    assert 'data-testid="checkin-form"' not in page and 'name="elder" value="1"' in page
    r = await h.api.post("/kiosk/take", data={"business": "A", "elder": "1"})
    assert r.headers["location"].endswith("?elder=1")
    tid = r.headers["location"].split("/")[-1].split("?")[0]
    page = (await h.api.get(r.headers["location"])).text
    assert "您的号码是 A 零 零 一 号。您是下一位。窗口开始办理后即叫您。办理窗口是 1号、2号窗口。" in page
    assert 'id="say-again"' in page
    if shutil.which("espeak-ng"):
        assert f'src="/kiosk/voice/t/{tid}.wav"' in page
        wav = await h.api.get(f"/kiosk/voice/t/{tid}.wav")
        assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and len(wav.content) > 20000
        h.clock.advance(180)  # the confirmation's speech only while it is the confirmation
        assert (await h.api.get(f"/kiosk/voice/t/{tid}.wav")).status_code == 404


async def test_without_a_server_voice_the_page_keeps_the_text(make_hall):
    h = await make_hall(extra=CLOSED_D + '\n[voice]\nengine = "off"\n')
    await signed_in(h)
    page = (await h.api.get("/kiosk", params={"elder": "1"})).text
    assert 'data-text="您好，请点击屏幕上您要办理的业务' in page and "/kiosk/voice/guide.wav" not in page
    assert (await h.api.get("/kiosk/voice/guide.wav")).status_code == 404
