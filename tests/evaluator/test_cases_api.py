"""POST /api/v1/windows/{w}/cases (the 一窗受理 system binds its 办件 to the ticket at the window) and
GET /api/v1/tickets/{id}/cases: who may, what hostile input gets, and 一事一评 over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.evaluator.helpers import Served
from tests.support import eventually, token

CASE = {"project_no": "330106202612010001", "item_code": "330100-0001", "item_name": "企业设立登记",
        "dept_code": "11330106MB1234567X",
        "applicant": {"name": "王小明", "id_number": "330102199001011234", "phone": "13812345678"}}


@pytest.fixture
def staff(daemon, tokens):
    db = daemon.config.database
    return {**tokens, "integration": {"Authorization": f"Bearer {token(db, 'integration')}"}}


async def at_window(api, tokens, business: str = "A") -> Served:
    r = await api.post("/api/v1/tickets", json={"business": business}, headers=tokens["kiosk"])
    t = Served(r.json()["id"])
    t.key = r.json()["rating_key"]
    r = await api.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])
    assert r.json()["ticket"]["id"] == t
    return t


async def bindings(daemon) -> list:
    await daemon.runtime.journal.append([])
    return [tuple(r) for r in await daemon.runtime.journal.fetchall("SELECT case_id, ticket, project_no FROM"
                                                                     " case_bindings ORDER BY case_id")]


async def test_integration_binds_two_cases_and_each_is_rated_once(api, staff, daemon):
    t = await at_window(api, staff)
    r = await api.post("/api/v1/windows/1/cases", json=CASE, headers=staff["integration"])
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["ticket"], first["project_no"]) == (t, CASE["project_no"])
    r = await api.post("/api/v1/windows/1/cases", json={"project_no": "330106202612010002", "item_name": "食品经营许可"},
                       headers=staff["clerk1"])  # the window's own clerk may bind too
    assert r.status_code == 201, r.text
    second = r.json()["case"]
    r = await api.get(f"/api/v1/tickets/{t}/cases", headers=staff["integration"])
    assert [(c["case"], c["state"]) for c in r.json()["cases"]] == [(first["case"], "bound"), (second, "bound")]
    assert r.json()["cases"][0]["applicant"] == {"name": "王**", "id_number": "330***********1234",
                                                 "phone": "138****5678"}
    assert (await api.post("/api/v1/windows/1/finish", headers=staff["clerk1"])).status_code == 200
    rate = {"ticket": t, "key": t.key, "case": second, "level": 5}
    assert (await api.post("/api/v1/ratings", json=rate)).status_code == 201  # the second first: by its id
    r = await api.post("/api/v1/ratings", json=rate)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_rated")
    r = await api.post("/api/v1/ratings", json={"ticket": t, "key": t.key, "level": 2, "reasons": [1]})
    assert (r.status_code, r.json()["case"]) == (201, first["case"])  # no case named: the first unrated
    r = await api.get(f"/api/v1/tickets/{t}/cases", headers=staff["supervisor"])
    got = [(c["case"], c["project_no"], c["state"], c["level"], c["channel"]) for c in r.json()["cases"]]
    assert got == [(first["case"], CASE["project_no"], "rated", 2, "qr"),
                   (second, "330106202612010002", "rated", 5, "qr")]
    r = await api.get("/api/v1/reports/reviews?group_by=window", headers=staff["supervisor"])
    row = r.json()["rows"][0]
    assert (row["key"], row["served"], row["rated"], row["bad"], row["very_satisfied"]) == ("1", 2, 2, 1, 1)


async def test_the_holder_reads_the_cases_without_applicant_and_strangers_are_refused(api, staff, daemon):
    t = await at_window(api, staff)
    await api.post("/api/v1/windows/1/cases", json=CASE, headers=staff["integration"])
    await api.post("/api/v1/windows/1/finish", headers=staff["clerk1"])
    r = await api.get(f"/api/v1/tickets/{t}/cases", headers={"X-Rating-Key": t.key})
    assert r.status_code == 200, r.text
    (case,) = r.json()["cases"]
    assert case["item_name"] == "企业设立登记" and case["state"] == "open"
    assert "applicant" not in case and "dept_code" not in case
    for headers in ({}, {"X-Rating-Key": "wrong"}):
        r = await api.get(f"/api/v1/tickets/{t}/cases", headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_holder")
    r = await api.get(f"/api/v1/tickets/{t}/cases", headers=staff["kiosk"])
    assert r.status_code == 403


async def test_who_may_bind(api, staff, daemon):
    await at_window(api, staff)
    for who, status in (("kiosk", 403), ("supervisor", 403), ("clerk2", 403)):
        r = await api.post("/api/v1/windows/1/cases", json=CASE, headers=staff[who])
        assert (who, r.status_code) == (who, status)
    r = await api.post("/api/v1/windows/1/cases", json=CASE)
    assert r.status_code == 401
    r = await api.post("/api/v1/windows/2/cases", json=CASE, headers=staff["integration"])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "invalid_state")  # nobody at window 2
    r = await api.post("/api/v1/windows/99/cases", json=CASE, headers=staff["integration"])
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_window")
    # The integration role does nothing else.
    r = await api.post("/api/v1/windows/1/finish", headers=staff["integration"])
    assert r.status_code == 403
    r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=staff["integration"])
    assert r.status_code == 403
    r = await api.get("/api/v1/reports/reviews", headers=staff["integration"])
    assert r.status_code == 403
    assert await bindings(daemon) == []


@pytest.mark.parametrize("body", [
    {},
    {"project_no": ""},
    {"project_no": 330106},
    {"project_no": "3301 06"},
    {"project_no": "x" * 65},
    {"project_no": "办件001"},
    {"project_no": "P-1", "extra": 1},
    {"project_no": "P-1", "item_name": "x" * 201},
    {"project_no": "P-1", "dept_code": "部门"},
    {"project_no": "P-1", "applicant": "王小明"},
    {"project_no": "P-1", "applicant": {"phone": "call me"}},
    {"project_no": "P-1", "applicant": {"name": "王", "age": 3}},
    {"project_no": "P-1", "applicant": {"type": "7"}},
    {"project_no": "P-1", "item_name": "a\u0000b"},
    {"project_no": "P-1", "applicant": {"name": "\ud800"}},
])
async def test_hostile_bodies_are_a_clear_4xx_and_bind_nothing(api, staff, daemon, body):
    await at_window(api, staff)
    r = await api.post("/api/v1/windows/1/cases", content=json.dumps(body),  # \ud800 escaped, as a client may
                       headers={**staff["integration"], "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.status_code not in (401, 403, 404), r.text
    assert set(r.json()["error"]) == {"code", "message"}
    assert await bindings(daemon) == []


async def test_not_json_and_a_project_no_bound_before_are_refused(api, staff, daemon):
    t = await at_window(api, staff)
    r = await api.post("/api/v1/windows/1/cases", content=b"{not json", headers=staff["integration"])
    assert r.status_code == 400
    assert (await api.post("/api/v1/windows/1/cases", json=CASE, headers=staff["integration"])).status_code == 201
    r = await api.post("/api/v1/windows/1/cases", json=CASE, headers=staff["integration"])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "duplicate_case")
    await api.post("/api/v1/windows/1/finish", headers=staff["clerk1"])
    # After a restart the engine knows only today's bindings by replay; an older one is in the table.
    eng = daemon.runtime.engine
    eng.bound_projects.clear()  # as after a restart on a later day
    await at_window(api, staff)
    r = await api.post("/api/v1/windows/1/cases", json=CASE, headers=staff["integration"])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "duplicate_case")
    assert [b[1] for b in await bindings(daemon)] == [t]
    assert (await api.get("/healthz")).status_code == 200  # no failed commit: the daemon still runs


async def test_national_export_and_departments_come_from_the_bound_case(make_daemon):
    d = await make_daemon(adapters=["evaluator.service:EvaluatorAdapter"], extra="")
    import httpx

    db = d.config.database
    h = {r: {"Authorization": f"Bearer {token(db, r)}"} for r in ("kiosk", "supervisor", "integration")}
    h["clerk1"] = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
        t = await at_window(api, h)
        assert (await api.post("/api/v1/windows/1/cases", json=CASE, headers=h["integration"])).status_code == 201
        other = {"project_no": "330106202612010009", "item_name": "食品经营许可"}  # no dept: the hall's
        assert (await api.post("/api/v1/windows/1/cases", json=other, headers=h["integration"])).status_code == 201
        await api.post("/api/v1/windows/1/finish", headers=h["clerk1"])
        for level in (5, 1):
            r = await api.post("/api/v1/ratings", json={"ticket": t, "key": t.key, "level": level, "reasons": [2]})
            assert r.status_code == 201, r.text
        plain = await at_window(api, h)  # a ticket served with no 办件 bound
        await api.post("/api/v1/windows/1/finish", headers=h["clerk1"])
        r = await api.post("/api/v1/ratings", json={"ticket": plain, "key": plain.key, "level": 4})
        assert r.status_code == 201, r.text
        r = await api.get("/api/v1/reports/national", headers=h["supervisor"])
        rows = {row["case_no"]: row for row in r.json()["rows"]}
        assert set(rows) == {CASE["project_no"], "330106202612010009", ""}  # no invented 办件编号
        mine = rows[CASE["project_no"]]
        assert (mine["item_code"], mine["item_name"], mine["department"], mine["satisfaction"]) == (
            "330100-0001", "企业设立登记", "11330106MB1234567X", 5)
        assert rows["330106202612010009"]["item_name"] == "食品经营许可"
        assert rows[""]["local_no"].endswith(f"-{d.runtime.engine.tickets[plain].serial}")
        r = await api.get("/api/v1/reports/reviews?group_by=dept", headers=h["supervisor"])
        assert r.status_code == 200, r.text
        by = {row["key"]: row for row in r.json()["rows"]}
        hall_dept = d.config.department
        assert by["11330106MB1234567X"]["served"] == 1 and by["11330106MB1234567X"]["very_satisfied"] == 1
        assert (by[hall_dept]["served"], by[hall_dept]["bad"], by[hall_dept]["reason_2"]) == (2, 1, 1)
        r = await api.get("/api/v1/reports/queues?group_by=dept", headers=h["supervisor"])
        assert r.status_code == 422  # tickets have no department


async def test_the_wechat_holder_reads_and_rates_each_case_with_the_session(make_daemon):
    import httpx

    from tests.support import PAGE_ORIGIN

    d = await make_daemon(adapters=["evaluator.service:EvaluatorAdapter", "queued.channels.mobile:WeChatMobile"],
                          extra="\n[wechat]\ndemo_login = true\n")
    db = d.config.database
    h = {"integration": {"Authorization": f"Bearer {token(db, 'integration')}"},
         "clerk1": {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}}

    def phone():
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall", headers=PAGE_ORIGIN)

    async with phone() as mine, phone() as other, phone() as staff:
        for c in (mine, other):
            assert (await c.post("/m/demo-login", data={"next": "/m"})).status_code == 303
        r = await mine.post("/api/v1/tickets", json={"business": "A", "channel": "wechat"})
        assert r.status_code == 201, r.text
        t = r.json()["id"]
        assert (await staff.post("/api/v1/windows/1/call-next", headers=h["clerk1"])).json()["ticket"]["id"] == t
        for pno in ("330106202612010201", "330106202612010202"):
            r = await staff.post("/api/v1/windows/1/cases", json={"project_no": pno}, headers=h["integration"])
            assert r.status_code == 201, r.text
        await staff.post("/api/v1/windows/1/finish", headers=h["clerk1"])
        r = await mine.get(f"/api/v1/tickets/{t}/cases")
        assert r.status_code == 200, r.text
        first, second = (c["case"] for c in r.json()["cases"])
        r = await other.get(f"/api/v1/tickets/{t}/cases")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_holder")
        r = await other.post("/api/v1/ratings", json={"ticket": t, "case": second, "level": 1})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_holder")
        r = await mine.post("/api/v1/ratings", json={"ticket": t, "case": second, "level": 3})
        assert (r.status_code, r.json()["channel"], r.json()["case"]) == (201, "wechat", second)
        r = await mine.get(f"/api/v1/tickets/{t}/cases")
        assert [(c["case"], c["state"]) for c in r.json()["cases"]] == [(first, "open"), (second, "rated")]


async def test_a_case_left_unfinished_overnight_is_bound_again_the_next_day_a_finished_one_never(
        api, staff, daemon, clock):
    # Monday: P-1 bound to A001, which is parked (挂起: a document is missing) and never resumed;
    # P-2 bound to A002 and finished.
    await at_window(api, staff)
    assert (await api.post("/api/v1/windows/1/cases", json={"project_no": "P-1"},
                           headers=staff["integration"])).status_code == 201
    assert (await api.post("/api/v1/windows/1/start", headers=staff["clerk1"])).status_code == 200
    r = await api.post("/api/v1/windows/1/park", json={"reason": "缺身份证复印件"}, headers=staff["clerk1"])
    assert r.status_code == 200, r.text
    await at_window(api, staff)
    assert (await api.post("/api/v1/windows/1/cases", json={"project_no": "P-2"},
                           headers=staff["integration"])).status_code == 201
    assert (await api.post("/api/v1/windows/1/finish", headers=staff["clerk1"])).status_code == 200
    r = await api.post("/api/v1/windows/1/cases", json={"project_no": "P-1"}, headers=staff["integration"])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "duplicate_case")  # the same day: still A001's
    clock.advance(86400)  # Tuesday: the citizen comes back with the document, on a new ticket
    t = await at_window(api, staff)
    r = await api.post("/api/v1/windows/1/cases", json={"project_no": "P-2"}, headers=staff["integration"])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "duplicate_case")  # finished: rated already
    r = await api.post("/api/v1/windows/1/cases", json={"project_no": "P-1"}, headers=staff["integration"])
    assert r.status_code == 201, r.text
    again = r.json()["case"]
    r = await api.post("/api/v1/windows/1/cases", json={"project_no": "P-1"}, headers=staff["integration"])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "duplicate_case")  # but once a day
    assert (await api.post("/api/v1/windows/1/finish", headers=staff["clerk1"])).status_code == 200
    r = await api.post("/api/v1/ratings", json={"ticket": t, "key": t.key, "level": 5})
    assert (r.status_code, r.json()["case"]) == (201, again)
    now = {b[2]: b[1] for b in await bindings(daemon)}
    assert sorted(now) == ["P-1", "P-2"] and now["P-1"] == t  # Monday's P-1 binding replaced
    # Monday's P-2 prompt is closed by a time-out the new day submits (not inside these requests):
    # on a loaded machine its commit may still be on its way.
    async def p2_closed():
        row = await daemon.runtime.journal.fetchone("SELECT state FROM cases WHERE project_no='P-2'")
        return row["state"] != "open"
    await eventually(p2_closed, what="Monday's P-2 prompt timed out")
    rows = await daemon.runtime.journal.fetchall("SELECT project_no, ticket, state FROM cases ORDER BY case_id")
    assert [(r["project_no"], r["state"]) for r in rows] == [("P-2", "unrated"), ("P-1", "rated")]
    assert (await api.get("/healthz")).status_code == 200
