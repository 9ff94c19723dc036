"""The window actions of the hall's day over HTTP: 挂起/回呼, outcomes at 办结, pause reasons, transfer
placement; bad bodies change nothing."""

from __future__ import annotations

import pytest

from tests.core.test_journal import snapshot


async def issue(api, tokens, business="A"):
    r = await api.post("/api/v1/tickets", json={"business": business}, headers=tokens["kiosk"])
    assert r.status_code == 201
    return r.json()


async def act(api, tokens, action, body=None, window="1", who="clerk1"):
    return await api.post(f"/api/v1/windows/{window}/{action}", json=body, headers=tokens[who])


async def test_park_and_unpark(api, tokens):
    a1 = await issue(api, tokens)
    a2 = await issue(api, tokens)
    await act(api, tokens, "call-next")
    await act(api, tokens, "start")
    r = await act(api, tokens, "park", {"reason": "缺营业执照复印件"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["parked"]["id"] == a1["id"] and body["parked"]["status"] == "parked"
    assert body["window"]["state"] == "idle" and body["window"]["parked"][0]["number"] == "A001"
    assert (await api.get(f"/api/v1/tickets/{a1['id']}")).json()["status"] == "parked"
    w = (await api.get("/api/v1/windows/1", headers=tokens["clerk1"])).json()
    assert [p["id"] for p in w["parked"]] == [a1["id"]] and w["parked"][0]["parked_at"].endswith("+08:00")
    r = await act(api, tokens, "call-next")
    assert r.json()["ticket"]["id"] == a2["id"]
    r = await act(api, tokens, "unpark", {"ticket": a1["id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"  # busy calling A002
    await act(api, tokens, "finish")
    r = await act(api, tokens, "unpark", {"ticket": a1["id"]})
    assert r.status_code == 200 and r.json()["window"]["state"] == "serving" and r.json()["ticket"]["number"] == "A001"
    assert r.json()["window"]["parked"] == []


async def test_finish_with_an_outcome(api, tokens):
    await issue(api, tokens)
    await act(api, tokens, "call-next")
    r = await act(api, tokens, "finish", {"outcome": "failed"})
    assert r.status_code == 422 and "原因" in r.json()["error"]["message"]
    r = await act(api, tokens, "finish", {"outcome": "failed", "note": "系统不支持该事项"})
    assert r.status_code == 200 and r.json()["finished"]["outcome"] == "failed"
    t = (await api.get(f"/api/v1/tickets/{r.json()['finished']['ticket']}")).json()
    assert (t["status"], t["outcome"], t["outcome_text"]) == ("done", "failed", "办不成")


async def test_pause_with_a_reason(api, tokens):
    r = await act(api, tokens, "pause", {"reason": "就餐"})
    assert r.status_code == 200 and r.json()["window"]["pause_reason"] == "就餐"
    await act(api, tokens, "resume")
    r = await act(api, tokens, "pause", {"reason": "聊天"})
    assert r.status_code == 422
    assert (await act(api, tokens, "pause")).json()["window"]["state"] == "paused"  # no body: no reason


async def test_transfer_place(api, tokens):
    await issue(api, tokens, "A")
    await issue(api, tokens, "B")
    await act(api, tokens, "call-next")  # A001
    r = await act(api, tokens, "transfer", {"business": "B", "place": "end"})
    assert r.status_code == 200
    r = await act(api, tokens, "call-next", window="2", who="clerk2")
    assert r.json()["ticket"]["number"] == "B001"  # the transfer went to the back


@pytest.mark.parametrize("action, body", [
    ("finish", {"outcome": 3}),
    ("finish", {"outcome": "done", "colour": "red"}),
    ("finish", {"note": "x" * 501}),
    ("pause", {"reason": ["会议"]}),
    ("park", {"reason": 1}),
    ("unpark", {}),
    ("unpark", {"ticket": "nope"}),
    ("transfer", {"business": "B", "place": "sideways"}),
])
async def test_bad_bodies_change_nothing(api, tokens, daemon, action, body):
    await issue(api, tokens)
    await act(api, tokens, "call-next")
    await act(api, tokens, "start")
    before = snapshot(daemon.runtime.engine, daemon.runtime.clock())
    r = await act(api, tokens, action, body)
    assert 400 <= r.status_code < 500 and r.json()["error"]["code"], r.text
    assert snapshot(daemon.runtime.engine, daemon.runtime.clock()) == before
