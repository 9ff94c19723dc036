"""The HTTP API as other systems see it: status codes, error bodies, auth, nothing changed on error."""

from __future__ import annotations

import pytest

from tests.core.test_journal import snapshot


def err(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def issue(api, tokens, **body):
    return await api.post("/api/v1/tickets", json={"business": "A", **body}, headers=tokens["kiosk"])


async def test_issue_returns_the_spec_fields(api, tokens):
    r = await issue(api, tokens)
    assert r.status_code == 201
    t = r.json()
    assert {"id", "number", "business", "status", "position", "eta_seconds", "issued_at"} <= set(t)
    assert (t["number"], t["business"], t["status"], t["position"]) == ("A001", "A", "waiting", 1)
    assert t["issued_at"].endswith("+08:00")
    got = (await api.get(f"/api/v1/tickets/{t['id']}")).json()  # public
    assert got["number"] == "A001" and got["position"] == 1 and got["window"] is None


async def test_error_codes_of_the_ticket_spec(api, tokens):
    err(await issue(api, tokens, business="Z"), 404, "unknown_business")
    assert (await issue(api, tokens, openid="o1")).status_code == 201
    err(await issue(api, tokens, openid="o1"), 409, "already_waiting")
    for _ in range(5):
        assert (await issue(api, tokens, business="C")).status_code == 201
    err(await issue(api, tokens, business="C"), 409, "quota_exhausted")  # daily_cap = 5
    err(await api.get("/api/v1/tickets/nope"), 404, "unknown_ticket")
    err(await api.request("DELETE", "/api/v1/tickets/nope", json={}), 404, "unknown_ticket")


async def test_closed_outside_issuing_hours(make_daemon, clock):
    import httpx

    from tests.support import token

    d = await make_daemon(extra='[[business]]\ncode = "E"\nname = "上午业务"\nhours = ["08:30-12:00"]\n')
    h = {"Authorization": f"Bearer {token(d.config.database, 'kiosk')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://h") as api:
        assert (await api.post("/api/v1/tickets", json={"business": "E"}, headers=h)).status_code == 201  # 10:00
        clock.advance(3 * 3600)  # 13:00
        r = await api.post("/api/v1/tickets", json={"business": "E"}, headers=h)
        err(r, 409, "closed")
        assert "08:30-12:00" in r.json()["error"]["message"]
        hall = (await api.get("/api/v1/hall")).json()
        assert [b["open"] for b in hall["businesses"] if b["code"] == "E"] == [False]


@pytest.mark.parametrize("body, code", [
    (b"{not json", "bad_json"),
    (b"", "bad_json"),
    (b"[1, 2]", "bad_json"),
    (b'{"business": 5}', "invalid_request"),
    (b'{}', "invalid_request"),
    (b'{"business": "A", "priority": "vip"}', "invalid_request"),
    (b'{"business": "A", "channel": "fax"}', "invalid_request"),
    (b'{"business": "A", "openid": 12}', "invalid_request"),
    (b'{"business": "A", "color": "red"}', "invalid_request"),
    (b'\xff\xfe', "bad_json"),
])
async def test_bad_input_changes_nothing(api, tokens, daemon, body, code):
    before = snapshot(daemon.runtime.engine, daemon.runtime.clock())
    r = await api.post("/api/v1/tickets", content=body, headers=tokens["kiosk"])
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"] == code
    assert snapshot(daemon.runtime.engine, daemon.runtime.clock()) == before


async def test_window_actions_and_invalid_state(api, tokens):
    h = tokens["clerk1"]
    r = await api.post("/api/v1/windows/1/call-next", headers=h)
    assert r.status_code == 200 and r.json()["ticket"] is None
    await issue(api, tokens)
    await issue(api, tokens)
    r = await api.post("/api/v1/windows/1/call-next", headers=h)
    assert r.json()["ticket"]["number"] == "A001" and r.json()["window"]["state"] == "calling"
    r = await api.post("/api/v1/windows/1/call-next", headers=h)
    err(r, 409, "invalid_state")
    assert "calling" in r.json()["error"]["message"]
    assert (await api.post("/api/v1/windows/1/recall", headers=h)).status_code == 200
    assert (await api.post("/api/v1/windows/1/start", headers=h)).json()["window"]["state"] == "serving"
    r = await api.post("/api/v1/windows/1/finish", headers=h)
    assert r.json()["window"]["state"] == "idle" and r.json()["finished"]["number"] == "A001"
    err(await api.post("/api/v1/windows/1/resume", headers=h), 409, "invalid_state")
    assert (await api.post("/api/v1/windows/1/pause", headers=h)).json()["window"]["state"] == "paused"
    err(await api.post("/api/v1/windows/1/call-next", headers=h), 409, "invalid_state")
    assert (await api.post("/api/v1/windows/1/resume", headers=h)).status_code == 200
    r = await api.post("/api/v1/windows/1/call", json={"number": "A002"}, headers=h)
    assert r.json()["ticket"]["number"] == "A002"
    r = await api.post("/api/v1/windows/1/transfer", json={"business": "B"}, headers=h)
    assert r.status_code == 200 and r.json()["window"]["state"] == "idle"
    r = await api.post("/api/v1/windows/2/call-next", headers=tokens["clerk2"])
    assert r.json()["ticket"]["number"] == "A002" and r.json()["ticket"]["business"] == "B"


async def test_window_bad_requests(api, tokens, daemon):
    h = tokens["admin"]
    err(await api.post("/api/v1/windows/99/call-next", headers=h), 404, "unknown_window")
    err(await api.post("/api/v1/windows/1/dance", headers=h), 404, "not_found")
    await issue(api, tokens)
    await api.post("/api/v1/windows/1/call-next", headers=h)
    before = snapshot(daemon.runtime.engine, daemon.runtime.clock())
    err(await api.post("/api/v1/windows/1/transfer", json={"business": "Z"}, headers=h), 404, "unknown_business")
    err(await api.post("/api/v1/windows/1/transfer", json={"window": "99"}, headers=h), 404, "unknown_window")
    err(await api.post("/api/v1/windows/1/transfer", json={}, headers=h), 422, "invalid_request")
    err(await api.post("/api/v1/windows/1/transfer", content=b"{", headers=h), 400, "bad_json")
    err(await api.post("/api/v1/windows/1/call", json={"number": 12}, headers=h), 422, "invalid_request")
    err(await api.post("/api/v1/windows/1/call", json={"number": "Q404"}, headers=h), 404, "unknown_ticket")
    assert snapshot(daemon.runtime.engine, daemon.runtime.clock()) == before


async def test_auth(api, tokens):
    err(await api.post("/api/v1/tickets", json={"business": "A"}), 401, "unauthorized")
    r = await api.post("/api/v1/tickets", json={"business": "A"}, headers={"Authorization": "Bearer nope"})
    err(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    err(await api.post("/api/v1/tickets", json={"business": "A"}, headers={"Authorization": "Basic eDp5"}),
        401, "unauthorized")
    err(await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["clerk1"]), 403, "forbidden")
    err(await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["supervisor"]), 403, "forbidden")
    assert (await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["admin"])).status_code == 201
    err(await api.post("/api/v1/windows/1/call-next"), 401, "unauthorized")
    err(await api.post("/api/v1/windows/1/call-next", headers=tokens["kiosk"]), 403, "forbidden")
    err(await api.post("/api/v1/windows/2/call-next", headers=tokens["clerk1"]), 403, "forbidden")
    assert (await api.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])).status_code == 200


async def test_cancel_by_holder(api, tokens):
    t = (await issue(api, tokens, openid="o9")).json()
    err(await api.request("DELETE", f"/api/v1/tickets/{t['id']}", json={"openid": "other"}), 403, "not_holder")
    # Naming the ticket's openid proves nothing (no WeChat session here): the rating key does.
    err(await api.request("DELETE", f"/api/v1/tickets/{t['id']}", json={"openid": "o9"}), 403, "not_holder")
    r = await api.request("DELETE", f"/api/v1/tickets/{t['id']}", json={"key": t["rating_key"]})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    err(await api.request("DELETE", f"/api/v1/tickets/{t['id']}", json={"key": t["rating_key"]}), 409,
        "invalid_state")


async def test_clerk_token_signs_its_clerk_in(api, tokens):
    await issue(api, tokens)
    r = await api.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])
    assert r.json()["window"]["clerk"] == "1001" and r.json()["window"]["clerk_name"] == "张三"


async def test_hall_and_ops_endpoints(api, tokens):
    await issue(api, tokens)
    hall = (await api.get("/api/v1/hall")).json()
    assert [b["code"] for b in hall["businesses"]] == ["A", "B", "C"]
    assert hall["businesses"][0]["waiting"] == 1 and hall["businesses"][0]["name"] == "综合受理"
    assert (await api.get("/healthz")).json()["status"] == "ok"
    text = (await api.get("/metrics")).text
    assert 'queued_tickets_issued_total{business="A",channel="kiosk"} 1.0' in text
    assert 'queued_waiting{business="A"} 1.0' in text
    assert "queued_http_request_duration_seconds_bucket" in text
    err(await api.get("/nowhere"), 404, "not_found")


async def test_a_revoked_token_stops_working(api, tokens, daemon):
    from queued.auth import list_tokens, revoke_token

    assert (await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["kiosk"])).status_code == 201
    kiosk = tokens["kiosk"]["Authorization"].split()[1]
    assert revoke_token(daemon.config.database, kiosk) == 1
    assert any(row[6] == 1 and row[1] == "kiosk" for row in list_tokens(daemon.config.database))
    daemon.app.state.tokens.ttl_s = 0  # what 10 s of waiting does
    err(await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["kiosk"]), 401, "unauthorized")


async def test_the_landing_page_links_every_page(api):
    r = await api.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for path in ("/kiosk", "/screen", "/m", "/clerk", "/admin", "/results"):
        assert f'href="{path}"' in r.text
    assert "高新区政务服务中心" in r.text


async def test_an_openid_longer_than_any_real_one_is_refused(api, tokens, daemon):
    before = snapshot(daemon.runtime.engine, daemon.runtime.clock())
    err(await issue(api, tokens, openid="o" * 65), 422, "invalid_request")
    assert snapshot(daemon.runtime.engine, daemon.runtime.clock()) == before
    assert (await issue(api, tokens, openid="oAbCdEfGhIjKlMnOpQrStUvWxYz12")).status_code == 201


async def test_the_window_lists_its_skipped_tickets_newest_first_for_a_call_back(api, tokens):
    for _ in range(3):
        await issue(api, tokens)
    h = tokens["clerk1"]
    for _ in range(3):
        await api.post("/api/v1/windows/1/call-next", headers=h)
        await api.post("/api/v1/windows/1/skip", headers=h)
    w = (await api.get("/api/v1/windows/1", headers=h)).json()
    assert [s["number"] for s in w["skipped"]] == ["A003", "A002", "A001"]
    await api.post("/api/v1/windows/1/call", json={"number": "A002"}, headers=h)  # called back: off the list
    await api.post("/api/v1/windows/1/skip", headers=h)  # skipped again: now the newest
    w = (await api.get("/api/v1/windows/1", headers=h)).json()
    assert [s["number"] for s in w["skipped"]] == ["A002", "A003", "A001"]
