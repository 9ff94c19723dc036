"""Subscribe-message notices against the fake WeChat: a few ahead, called, token refresh, refusals,
and a slow or failing WeChat that must never slow down ticket issuing."""

from __future__ import annotations

import time

import pytest

from queued.channels import notify
from tests.support import token
from tests.wechat.conftest import eventually


def bearer(daemon, role, window=None, clerk=None) -> dict:
    return {"Authorization": "Bearer " + token(daemon.config.database, role, window, clerk)}


@pytest.fixture
def hdr(wechat_daemon):
    return {"kiosk": bearer(wechat_daemon, "kiosk"), "w1": bearer(wechat_daemon, "clerk", "1", "1001"),
            "w2": bearer(wechat_daemon, "clerk", "2", "1002"), "w3": bearer(wechat_daemon, "clerk", "3")}


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(notify, "RETRY_DELAYS_S", (0.05, 0.1))


async def issue(client, hdr, business="A", openid=None) -> dict:
    body = {"business": business} | ({"openid": openid} if openid else {})
    r = await client.post("/api/v1/tickets", json=body, headers=hdr["kiosk"])
    assert r.status_code == 201, r.text
    return r.json()


def sample(daemon, name, **labels) -> float:
    return daemon.metrics.registry.get_sample_value(name, labels) or 0.0


def for_ticket(fake, number: str) -> list[dict]:
    return [m for m in fake.messages if m["data"]["character_string2"]["value"] == number]


async def test_notices_at_n_ahead_and_when_called(client, hdr, fake_wechat, wechat_daemon):
    alice = fake_wechat.add_user("oAlice_2bX")
    await client.get("/m")  # phones reach the hall at http://hall: links in notices point there
    for _ in range(4):
        await issue(client, hdr)  # A001..A004 at the kiosk, no WeChat
    mine = await issue(client, hdr, openid=alice)  # A005: 4 ahead; notify_ahead = 2
    assert mine["position"] == 5
    await client.post("/api/v1/windows/1/call-next", headers=hdr["w1"])  # 3 ahead
    await client.post("/api/v1/windows/2/call-next", headers=hdr["w2"])  # 2 ahead → notice
    msgs = await eventually(lambda: for_ticket(fake_wechat, "A005"))
    assert msgs == [{
        "touser": "oAlice_2bX",
        "template_id": "TPL_AHEAD_7Xk2",
        "page": f"http://hall/m/t/{mine['id']}",
        "data": {
            "thing1": {"value": "综合受理"},
            "character_string2": {"value": "A005"},
            "number3": {"value": "2"},
            "thing4": {"value": "快到您了，请尽快到大厅等候叫号"},
        },
    }]
    for w in ("1", "2"):  # 1 ahead, then 0 ahead: no second 'ahead' notice
        await client.post(f"/api/v1/windows/{w}/finish", headers=hdr[f"w{w}"])
        await client.post(f"/api/v1/windows/{w}/call-next", headers=hdr[f"w{w}"])
    await client.post("/api/v1/windows/1/finish", headers=hdr["w1"])
    r = await client.post("/api/v1/windows/1/call-next", headers=hdr["w1"])
    assert r.json()["ticket"]["number"] == "A005"
    called = await eventually(lambda: [m for m in for_ticket(fake_wechat, "A005") if m["template_id"] == "TPL_CALLED_9Qm4"])
    assert called[0]["touser"] == "oAlice_2bX"
    data = called[0]["data"]
    assert data["thing1"] == {"value": "综合受理"} and data["character_string2"] == {"value": "A005"}
    assert data["thing3"] == {"value": "请到1号窗口办理"}
    assert data["time4"]["value"].endswith(" 10:00")  # the test clock stands at 10:00 hall time
    await client.post("/api/v1/windows/1/recall", headers=hdr["w1"])  # 重呼: no second 'called' notice
    await wechat_daemon.adapter("WeChatMobile").notifier.queue.join()
    assert [m["template_id"] for m in for_ticket(fake_wechat, "A005")] == ["TPL_AHEAD_7Xk2", "TPL_CALLED_9Qm4"]
    assert sample(wechat_daemon, "queued_wechat_notices_total", kind="called", result="sent") == 1
    rows = await wechat_daemon.runtime.journal.fetchall("SELECT kind, result FROM wechat_notices WHERE ticket=?",
                                                        (mine["id"],))
    assert sorted(tuple(r) for r in rows) == [("ahead", "sent"), ("called", "sent")]


async def test_a_ticket_near_the_front_is_told_at_once_and_kiosk_tickets_never(client, hdr, fake_wechat,
                                                                               wechat_daemon):
    bob = fake_wechat.add_user()
    await issue(client, hdr, "B")
    t = await issue(client, hdr, "B", openid=bob)  # 1 ahead ≤ 2
    msgs = await eventually(lambda: for_ticket(fake_wechat, t["number"]))
    assert msgs[0]["data"]["number3"] == {"value": "1"}
    await wechat_daemon.adapter("WeChatMobile").notifier.queue.join()
    assert all(m["touser"] == bob for m in fake_wechat.messages)


async def test_no_notices_are_repeated_after_a_restart(make_daemon, fake_wechat):
    import httpx

    from tests.wechat.conftest import ADAPTER, wechat_toml

    d = await make_daemon(extra=wechat_toml(fake_wechat), adapters=[ADAPTER], name="restart")
    kiosk = bearer(d, "kiosk")
    carol = fake_wechat.add_user()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as c:
        await c.post("/api/v1/tickets", json={"business": "A", "openid": carol}, headers=kiosk)
    await eventually(lambda: fake_wechat.messages)
    await d.adapter("WeChatMobile").notifier.queue.join()
    await d.stop()
    d2 = await make_daemon(extra=wechat_toml(fake_wechat), adapters=[ADAPTER], name="restart")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d2.app), base_url="http://hall") as c:
        await c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)  # the queue moves
    await d2.adapter("WeChatMobile").notifier.queue.join()
    assert len(fake_wechat.messages) == 1


async def test_official_account_pages_send_through_bizsend(make_daemon, fake_wechat):
    import httpx

    from tests.wechat.conftest import ADAPTER, wechat_toml

    d = await make_daemon(extra=wechat_toml(fake_wechat) + 'subscribe_api = "bizsend"\n', adapters=[ADAPTER])
    carol = fake_wechat.add_user()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as c:
        await c.post("/api/v1/tickets", json={"business": "A", "openid": carol}, headers=bearer(d, "kiosk"))
    await eventually(lambda: fake_wechat.messages)
    assert len(fake_wechat.sends("bizsend")) == 1 and fake_wechat.sends("send") == []
    assert fake_wechat.messages[0]["touser"] == carol


@pytest.mark.parametrize("stale", ["expire_tokens", "revoke_tokens"])
async def test_a_stale_access_token_is_refreshed_and_the_send_retried(client, hdr, fake_wechat, wechat_daemon,
                                                                      stale):
    users = [fake_wechat.add_user() for _ in range(2)]
    await issue(client, hdr, "A", openid=users[0])
    await eventually(lambda: len(fake_wechat.messages) == 1)
    assert fake_wechat.token_requests() == 1
    getattr(fake_wechat, stale)()  # 42001 expired / 40001 invalid
    await issue(client, hdr, "B", openid=users[1])
    await eventually(lambda: len(fake_wechat.messages) == 2)
    assert fake_wechat.token_requests() == 2
    assert [c["errcode"] for c in fake_wechat.sends()] == [0, 42001 if stale == "expire_tokens" else 40001, 0]
    assert fake_wechat.messages[1]["touser"] == users[1]


async def test_the_access_token_is_cached(client, hdr, fake_wechat):
    for _ in range(3):
        await issue(client, hdr, "A", openid=fake_wechat.add_user())
    await eventually(lambda: len(fake_wechat.messages) == 3)
    assert fake_wechat.token_requests() == 1


async def test_refused_subscription_is_logged_counted_and_not_retried(client, hdr, fake_wechat, wechat_daemon,
                                                                      caplog):
    dave = fake_wechat.add_user()
    fake_wechat.refused.add(dave)
    t = await issue(client, hdr, "A", openid=dave)
    await eventually(lambda: sample(wechat_daemon, "queued_wechat_notices_total", kind="ahead", result="refused"))
    assert [c["errcode"] for c in fake_wechat.sends()] == [43101]
    assert sample(wechat_daemon, "queued_wechat_api_errors_total", errcode="43101") == 1
    assert "43101" in caplog.text and t["id"] in caplog.text
    r = await client.get("/metrics")
    assert 'queued_wechat_notices_total{kind="ahead",result="refused"} 1.0' in r.text


async def test_system_busy_is_retried(client, hdr, fake_wechat, wechat_daemon):
    fake_wechat.fail_sends = 2
    await issue(client, hdr, "A", openid=fake_wechat.add_user())
    await eventually(lambda: fake_wechat.messages)
    assert [c["errcode"] for c in fake_wechat.sends()] == [-1, -1, 0]
    assert sample(wechat_daemon, "queued_wechat_api_errors_total", errcode="-1") == 2


async def test_an_ahead_notice_that_came_too_late_is_dropped(client, hdr, fake_wechat, wechat_daemon):
    fake_wechat.delay = 0.3  # the token fetch is slow; meanwhile the ticket is called
    erin = fake_wechat.add_user()
    t = await issue(client, hdr, "C", openid=erin)
    await client.post("/api/v1/windows/3/call-next", headers=hdr["w3"])
    await wechat_daemon.adapter("WeChatMobile").notifier.queue.join()
    assert [m["template_id"] for m in fake_wechat.messages] == ["TPL_CALLED_9Qm4"]
    assert t["number"] == "C001"


async def test_slow_wechat_does_not_slow_ticket_issuing(client, hdr, fake_wechat, wechat_daemon):
    users = [fake_wechat.add_user() for _ in range(40)]
    baseline = []
    for u in users[:20]:
        t0 = time.perf_counter()
        await issue(client, hdr, "A", openid=u)
        baseline.append(time.perf_counter() - t0)
    await wechat_daemon.adapter("WeChatMobile").notifier.queue.join()
    fake_wechat.delay = 2.0  # every WeChat answer now takes 2 s
    sent_before = len(fake_wechat.messages)
    slow = []
    started = time.perf_counter()
    for u in users[20:]:
        t0 = time.perf_counter()
        await issue(client, hdr, "B", openid=u)  # B001..B003 are within 2 ahead: notices queue up
        slow.append(time.perf_counter() - t0)
        await client.post("/api/v1/windows/2/call-next", headers=hdr["w2"])  # calls: more notices
        await client.post("/api/v1/windows/2/finish", headers=hdr["w2"])
    elapsed = time.perf_counter() - started
    print(f"\nissue while WeChat answers in 2 s: median {sorted(slow)[10] * 1000:.1f} ms, max {max(slow) * 1000:.1f} ms"
          f" (before: median {sorted(baseline)[10] * 1000:.1f} ms); 20 issue+call+finish rounds in {elapsed:.2f} s")
    assert fake_wechat.in_flight > 0 and len(fake_wechat.messages) == sent_before  # WeChat is still busy
    assert elapsed < 1.5, elapsed
    assert max(slow) < 0.25 and sorted(slow)[len(slow) // 2] < max(0.05, 3 * sorted(baseline)[10]), (baseline, slow)
    # the notices arrive, later
    await eventually(lambda: len(fake_wechat.messages) > sent_before, timeout=10)


async def test_unreachable_wechat_does_not_slow_ticket_issuing(client, hdr, fake_wechat, wechat_daemon):
    fake_wechat.stop()  # connection refused from now on
    users = [f"oGone{i}" for i in range(30)]
    started = time.perf_counter()
    for u in users:
        await issue(client, hdr, "A", openid=u)
    assert time.perf_counter() - started < 1.5
    await wechat_daemon.adapter("WeChatMobile").notifier.queue.join()
    assert sample(wechat_daemon, "queued_wechat_notices_total", kind="ahead", result="failed") == 3
    assert sample(wechat_daemon, "queued_wechat_api_errors_total", errcode="network") == 9  # 3 tries each
