"""差评 follow-up through the HTTP API of an in-process daemon (evaluator + admin adapters)."""

from __future__ import annotations

import sqlite3

from tests.evaluator_admin.conftest import at


async def _items(hall, headers, query: str = "") -> list[dict]:
    r = await hall.client.get("/api/v1/followups" + query, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["followups"]


async def _act(hall, headers, case: int, action: str, body: dict, status: int = 200) -> dict:
    r = await hall.client.post(f"/api/v1/followups/{case}/{action}", json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


async def test_a_bad_rating_opens_an_item_for_the_windows_leader_due_in_working_days(hall, tokens):
    sup = tokens["supervisor"]
    friday = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(friday, 2, [1, 3], "窗口人员玩手机")
    good = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(good, 4)  # not a 差评: no item

    items = await _items(hall, sup)
    assert [i["case"] for i in items] == [friday["case"]]
    it = items[0]
    assert (it["leader"], it["leader_name"], it["window"], it["clerk_name"]) == ("1002", "李四", "1", "张三")
    assert it["deadline"] == "2026-09-25"  # Friday 18th + 5 working days = the next Friday
    assert it["due_at"] == "2026-09-26T00:00:00.000+08:00"
    assert (it["state"], it["state_text"], it["overdue"]) == ("open", "待回访", False)
    assert it["reason_names"] == ["服务态度差", "一次告知不清"] and it["comment"] == "窗口人员玩手机"

    # A week later, before the National Day holidays: they and the make-up Sunday are honoured.
    hall.clock.now = at("2026-09-25")
    later = await hall.serve(tokens["kiosk"], tokens["clerk2"], window="2")
    await hall.rate(later, 1)
    it = next(i for i in await _items(hall, sup) if i["case"] == later["case"])
    assert it["deadline"] == "2026-10-05" and it["leader"] is None  # window 2 has no leader: unassigned


async def test_overdue_is_flagged_once_the_clock_passes_the_deadline(hall, tokens):
    sup = tokens["supervisor"]
    case = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(case, 1)
    hall.clock.now = at("2026-09-25", "23:59")
    assert (await _items(hall, sup))[0]["overdue"] is False
    assert await _items(hall, sup, "?overdue=true") == []
    hall.clock.now = at("2026-09-26", "00:01")
    [it] = await _items(hall, sup, "?overdue=true")
    assert it["case"] == case["case"] and it["overdue"] is True
    # Finished items are never overdue.
    await _act(hall, sup, case["case"], "callback", {"contacted": True, "note": "已致歉"})
    await _act(hall, sup, case["case"], "rectify", {"mode": "immediate", "note": "当场纠正"})
    done = await _act(hall, sup, case["case"], "verdict", {"verdict": "satisfied"})
    assert done["state"] == "closed" and done["overdue"] is False
    assert await _items(hall, sup, "?overdue=true") == []


async def test_lifecycle_and_refused_transitions(hall, tokens):
    sup = tokens["supervisor"]
    served = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(served, 2)
    case = served["case"]

    for action, body in (("verdict", {"verdict": "satisfied"}), ("rectify", {"mode": "immediate"}),
                         ("decide-appeal", {"upheld": True})):
        err = await _act(hall, sup, case, action, body, 409)
        assert err["error"]["code"] == "invalid_state" and "待回访" in err["error"]["message"]

    it = await _act(hall, sup, case, "callback", {"contacted": False, "note": "电话无人接听", "by": "李四"})
    assert (it["state"], it["attempts"], it["contacted"]) == ("open", 1, False)
    hall.clock.now = at("2026-09-18", "12:00")
    await _act(hall, sup, case, "callback", {"contacted": True, "note": "已沟通", "called_at": "2026-09-18T12:30:00+08:00"}, 422)
    it = await _act(hall, sup, case, "callback", {"contacted": True, "note": "群众反映等候太久", "by": "李四",
                                                 "called_at": "2026-09-18T11:30:00+08:00"})
    assert (it["state"], it["attempts"], it["called_back_at"]) == ("called_back", 2, "2026-09-18T11:30:00.000+08:00")

    # Bad input: a clear 4xx and nothing changes.
    assert (await _act(hall, sup, case, "rectify", {"mode": "plan"}, 422))["error"]["code"] == "invalid_request"
    await _act(hall, sup, case, "rectify", {"mode": "plan", "plan_date": "2026-09-01"}, 422)
    await _act(hall, sup, case, "rectify", {"mode": "someday"}, 422)
    await _act(hall, sup, case, "rectify", {"mode": "immediate", "colour": "red"}, 422)
    r = await hall.client.post(f"/api/v1/followups/{case}/rectify", content=b"{oops", headers=sup)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    assert (await _act(hall, sup, case, "shout", {}, 404))["error"]["code"] == "not_found"
    assert (await _act(hall, sup, 999, "callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"}, 404))["error"]["code"] == "not_found"
    assert (await hall.client.get("/api/v1/followups/999", headers=sup)).status_code == 404
    assert (await hall.client.get(f"/api/v1/followups/{case}", headers=sup)).json()["state"] == "called_back"

    it = await _act(hall, sup, case, "rectify", {"mode": "plan", "plan_date": "2026-09-30", "note": "增开窗口"})
    assert (it["state"], it["rect_mode_text"], it["plan_date"]) == ("rectified", "限期整改", "2026-09-30")
    await _act(hall, sup, case, "callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"}, 409)
    await _act(hall, sup, case, "rectify", {"mode": "immediate"}, 409)
    it = await _act(hall, sup, case, "verdict", {"verdict": "dissatisfied", "note": "仍不满意"})
    assert (it["state"], it["verdict_text"]) == ("closed", "不满意")
    for action, body in (("callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"}), ("appeal", {"reason": "x"}),
                         ("verdict", {"verdict": "satisfied"})):
        await _act(hall, sup, case, action, body, 409)

    full = (await hall.client.get(f"/api/v1/followups/{case}", headers=sup)).json()
    assert [h["action"] for h in full["history"]] == ["opened", "callback", "callback", "rectify", "verdict"]
    assert full["history"][2]["note"] == "群众反映等候太久" and full["history"][2]["by"] == "李四"


async def _good_rate(hall, headers, day: str) -> str:
    """The good rate the supervisor sees on the review dashboard (signed in with a cookie)."""
    token = headers["Authorization"].split()[1]
    r = await hall.client.post("/admin/login", data={"token": token, "next": "/admin/reviews"})
    assert r.status_code == 303
    page = await hall.client.get(f"/admin/reviews?from={day}&to={day}")
    assert page.status_code == 200
    text = page.text
    start = text.index('<div class="n ok">') + len('<div class="n ok">')
    return text[start:text.index("<", start)]


async def test_an_upheld_appeal_takes_the_rating_out_of_the_rates(hall, tokens):
    sup = tokens["supervisor"]
    good = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(good, 5)
    bad = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(bad, 1, comment="恶意刷差评")
    assert await _good_rate(hall, sup, "2026-09-18") == "50.0%"

    it = await _act(hall, sup, bad["case"], "appeal", {"reason": "监控显示办理正常，系恶意差评"})
    assert it["state"] == "appealed"
    await _act(hall, sup, bad["case"], "appeal", {"reason": "again"}, 409)
    await _act(hall, sup, bad["case"], "callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"}, 409)
    it = await _act(hall, sup, bad["case"], "decide-appeal", {"upheld": True, "note": "经核实属实"})
    assert (it["state"], it["upheld"]) == ("removed", True)
    assert await _good_rate(hall, sup, "2026-09-18") == "100.0%"
    # The spec's report agrees with the dashboard: the removed 差评 counts as unrated.
    r = await hall.client.get("/api/v1/reports/reviews?from=2026-09-18&to=2026-09-18&group_by=window", headers=sup)
    (row,) = r.json()["rows"]
    assert (row["served"], row["rated"], row["bad"], row["good_rate"], row["excluded"]) == (2, 1, 0, 1.0, 1)
    assert row["very_dissatisfied"] == 0 and row["unrated"] == 1
    # History is kept: the rating is still on record, only excluded.
    db = hall.daemon.runtime.journal
    assert (await db.fetchone("SELECT level FROM ratings WHERE case_id=?", (bad["case"],)))["level"] == 1
    assert (await db.fetchone("SELECT reason FROM rating_exclusions WHERE case_id=?", (bad["case"],)))[0] == "经核实属实"


async def test_a_rejected_appeal_returns_the_item_where_it_was(hall, tokens):
    sup = tokens["supervisor"]
    bad = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(bad, 2)
    await _act(hall, sup, bad["case"], "callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"})
    await _act(hall, sup, bad["case"], "appeal", {"reason": "群众误解"})
    it = await _act(hall, sup, bad["case"], "decide-appeal", {"upheld": False})
    assert (it["state"], it["upheld"]) == ("called_back", False)
    await _act(hall, sup, bad["case"], "appeal", {"reason": "再申诉"}, 409)
    assert await _good_rate(hall, sup, "2026-09-18") == "0.0%"


async def test_call_back_and_rectification_rates(hall, tokens):
    sup, k = tokens["supervisor"], tokens["kiosk"]
    w1 = [await hall.serve(k, tokens["clerk1"], openid=f"o-{i}" if i == 0 else None) for i in range(3)]
    w2 = [await hall.serve(k, tokens["clerk2"], window="2") for _ in range(2)]
    for c in w1 + w2:
        await hall.rate(c, 1)
    # Window 1: the named 差评 called back and rectified, one call that reached nobody, one untouched.
    await _act(hall, sup, w1[0]["case"], "callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"})
    await _act(hall, sup, w1[0]["case"], "rectify", {"mode": "immediate"})
    await _act(hall, sup, w1[1]["case"], "callback", {"contacted": False, "note": "10:05 拨打未接通"})
    # Window 2: one closed with a satisfied citizen, one removed on appeal (out of every rate).
    await _act(hall, sup, w2[0]["case"], "callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"})
    await _act(hall, sup, w2[0]["case"], "rectify", {"mode": "immediate"})
    await _act(hall, sup, w2[0]["case"], "verdict", {"verdict": "satisfied"})
    await _act(hall, sup, w2[1]["case"], "appeal", {"reason": "恶意"})
    await _act(hall, sup, w2[1]["case"], "decide-appeal", {"upheld": True})

    r = await hall.client.get("/api/v1/reports/followups?from=2026-09-18&to=2026-09-18&group_by=window", headers=sup)
    assert r.status_code == 200, r.text
    rows = {row["key"]: row for row in r.json()["rows"]}
    one, two = rows["1"], rows["2"]
    assert (one["items"], one["called_back"], one["attempted"], one["rectified"]) == (3, 1, 2, 1)
    assert one["callback_rate"] == 0.3333 and one["rectification_rate"] == 0.3333
    assert (one["named"], one["named_called_back"], one["named_callback_rate"]) == (1, 1, 1.0)
    assert (two["items"], two["removed"], two["callback_rate"], two["rectification_rate"]) == (2, 1, 1.0, 1.0)
    assert two["satisfaction_rate"] == 1.0 and two["named_callback_rate"] is None
    total = r.json()["total"]
    assert (total["items"], total["removed"], total["called_back"], total["callback_rate"]) == (5, 1, 2, 0.5)

    csv = await hall.client.get("/api/v1/reports/followups?from=2026-09-18&to=2026-09-18&format=csv", headers=sup)
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("分组,差评件数,申诉撤销,已联系上")
    assert "33.3%" in csv.text.splitlines()[1]  # window 1's call-back rate, as a percentage
    bad = await hall.client.get("/api/v1/reports/followups?from=2026-09-19&to=2026-09-18", headers=sup)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert (await hall.client.get("/api/v1/reports/followups?group_by=moon", headers=sup)).status_code == 422


async def test_kiosk_and_clerk_tokens_are_refused(hall, tokens):
    case = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(case, 1)
    n = case["case"]
    calls = [("GET", "/api/v1/followups", None), ("GET", f"/api/v1/followups/{n}", None),
             ("POST", f"/api/v1/followups/{n}/callback", {"contacted": True}),
             ("GET", "/api/v1/reports/followups", None), ("GET", "/api/v1/hall/live", None)]
    for who in ("kiosk", "clerk1", "clerk2"):
        for method, url, body in calls:
            r = await hall.client.request(method, url, json=body, headers=tokens[who])
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (who, url)
    for method, url, body in calls:
        assert (await hall.client.request(method, url, json=body)).status_code == 401
    assert (await hall.client.get(f"/api/v1/followups/{n}", headers=tokens["admin"])).json()["state"] == "open"


async def test_items_survive_a_restart_same_day_and_next_day(hall, tokens):
    sup = tokens["supervisor"]
    a = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    b = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(a, 1)
    await hall.rate(b, 2)
    await _act(hall, sup, a["case"], "callback", {"contacted": False, "note": "10:05 拨打未接通"})
    await _act(hall, sup, a["case"], "callback", {"contacted": True, "note": "已电话沟通，群众反映等候时间长"})
    await _act(hall, sup, b["case"], "appeal", {"reason": "恶意"})
    before = await _items(hall, sup)

    await hall.restart()  # today's events replay over the loaded items
    assert await _items(hall, sup) == before
    book = hall.daemon.adapter("AdminAdapter").book
    assert (book.items[a["case"]].state, book.items[a["case"]].attempts) == ("called_back", 2)
    await _act(hall, sup, a["case"], "verdict", {"verdict": "satisfied"}, 409)  # the state machine came back too
    await _act(hall, sup, a["case"], "rectify", {"mode": "immediate"})

    hall.clock.now = at("2026-09-21")  # Monday: nothing of Friday is replayed, all comes from the table
    await hall.restart()
    it = {i["case"]: i for i in await _items(hall, sup)}
    assert it[a["case"]]["state"] == "rectified" and it[b["case"]]["state"] == "appealed"
    rejected = await _act(hall, sup, b["case"], "decide-appeal", {"upheld": False})
    assert rejected["state"] == "open"  # where it was before the appeal
    await _act(hall, sup, a["case"], "verdict", {"verdict": "satisfied"})


async def test_a_bad_rating_whose_follow_up_was_lost_is_opened_at_start(hall, tokens):
    case = await hall.serve(tokens["kiosk"], tokens["clerk1"])
    await hall.rate(case, 1)
    await hall.stop()
    # As if the daemon died between the rating's commit and the follow-up's.
    with sqlite3.connect(hall.db) as conn:
        conn.execute("DELETE FROM events WHERE kind LIKE 'followup_%'")
        conn.execute("DELETE FROM followups")
        conn.execute("DELETE FROM followup_actions")
    conn.close()
    await hall.start()
    [it] = await _items(hall, tokens["supervisor"])
    assert (it["case"], it["deadline"], it["leader"]) == (case["case"], "2026-09-25", "1002")
