"""The hall's day in the reports: paused minutes by reason, 延时, 挂起 and 留号, saturation (busy ÷
open), and the 办不成事 ledger with its exports — from a day played through the real daemon."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from queued.core import commands as c
from tests.channels.conftest import MONDAY_10AM
from tests.support import Clock

EVALUATOR = "evaluator.service:EvaluatorAdapter"
TIMES = 'stop_issuing = "16:45"\ncloses = "17:30"\nhard_close = "19:30"'
DAY = "2026-11-16"


def at(hh: int, mm: int, ss: int = 0) -> float:
    return MONDAY_10AM + (hh - 10) * 3600 + mm * 60 + ss


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10AM)


@pytest.fixture
async def daemon(make_daemon):
    return await make_daemon(adapters=[EVALUATOR], hall_extra=TIMES)


async def test_the_days_figures(api, tokens, clock, daemon):
    kiosk, c1, sup = tokens["kiosk"], tokens["clerk1"], tokens["supervisor"]

    async def act(path, body=None, headers=c1):
        r = await api.post(f"/api/v1/windows/1/{path}", json=body, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    async def issue(business="A"):
        r = await api.post("/api/v1/tickets", json={"business": business}, headers=kiosk)
        assert r.status_code == 201, r.text
        return r.json()

    for _ in range(4):
        await issue()
    # 10:00 window 1 opens (clerk 1001 signs in by acting) and pauses 20 minutes for a meeting.
    await act("pause", {"reason": "会议"})
    clock.now = at(10, 20)
    await act("resume")
    # 10:20–10:30 A001 served; 办不成 with a note that looks like a formula.
    await act("call-next")
    await act("start")
    clock.now = at(10, 30)
    await act("finish", {"outcome": "failed", "note": "=HYPERLINK(\"x\") 缺少不动产权证书原件"})
    # 10:30–10:40 A002: parked (挂起) and never taken back today.
    await act("call-next")
    await act("start")
    clock.now = at(10, 40)
    await act("park", {"reason": "缺材料"})
    # Lunch: 60 minutes, no reason given.
    await act("pause")
    clock.now = at(11, 40)
    await act("resume")
    # A003 is called at 17:20 and finished at 17:40: ten of its twenty minutes are 延时.
    clock.now = at(17, 20)
    await act("call-next")
    await act("start")
    clock.now = at(17, 40)
    await act("finish")
    # A004 still waits at hard_close: closed out (留号).
    clock.now = at(19, 30, 1)
    await daemon.runtime.execute(c.CloseOutDay())  # what the runtime's timer does at hard_close

    q = f"from={DAY}&to={DAY}"
    rows = {r["key"]: r for r in (await api.get(f"/api/v1/reports/queues?{q}&group_by=window", headers=sup)).json()["rows"]}
    w1 = rows["1"]
    assert w1["paused_minutes"] == {"会议": 20.0, "未注明": 60.0} and w1["paused_total_minutes"] == 80.0
    assert w1["extended_minutes"] == 10.0
    assert w1["parked"] == 1 and w1["served"] == 2
    assert w1["busy_minutes"] == 30.0  # 10 + 20 (A002 is still parked: not finished)
    # Open from 10:00 to its last case event (17:40) = 460 min, less 80 paused = 380.
    assert w1["open_minutes"] == 380.0 and w1["saturation"] == round(30 / 380, 4)
    assert rows[None]["left_over"] == 1  # never called: no window

    clerks = {r["key"]: r for r in (await api.get(f"/api/v1/reports/queues?{q}&group_by=clerk",
                                                  headers=sup)).json()["rows"]}
    assert clerks["1001"]["extended_minutes"] == 10.0 and clerks["1001"]["paused_minutes"]["会议"] == 20.0
    assert clerks["1001"]["saturation"] is None
    day = (await api.get(f"/api/v1/reports/queues?{q}&group_by=day", headers=sup)).json()["rows"][0]
    assert (day["left_over"], day["parked"], day["extended_minutes"]) == (1, 1, 10.0)
    biz = {r["key"]: r for r in (await api.get(f"/api/v1/reports/queues?{q}&group_by=business",
                                               headers=sup)).json()["rows"]}
    assert biz["A"]["left_over"] == 1 and 0 < biz["A"]["saturation"] <= 1

    r = await api.get(f"/api/v1/reports/queues?{q}&group_by=window&format=csv", headers=sup)
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))  # one header row, in Chinese
    w1csv = next(x for x in table if x["分组"] == "1")
    reasons = [*daemon.config.hall.pause_reasons, "未注明"]
    assert w1csv[f"暂停(分钟)：{reasons[0]}"] == "20.0" and w1csv[f"暂停(分钟)：{reasons[5]}"] == "60.0"
    assert w1csv["饱和度"] == f"{30 / 380 * 100:.1f}%"  # a rate: a percentage

    ledger = (await api.get(f"/api/v1/reports/failed?{q}", headers=sup)).json()
    assert [(x["number"], x["window"], x["clerk"], x["clerk_name"], x["business_name"], x["day"])
            for x in ledger["rows"]] == [("A001", "1", "1001", "张三", "综合受理", DAY)]
    assert ledger["rows"][0]["note"].endswith("缺少不动产权证书原件") and len(ledger["rows"]) == 1
    r = await api.get(f"/api/v1/reports/failed?{q}&format=csv", headers=sup)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    body = r.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body
    r = await api.get(f"/api/v1/reports/failed?{q}&format=xlsx", headers=sup)
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = list(ws.values)
    assert "办不成原因" in values[0] and "note" not in values[0]  # one header row, in Chinese
    assert values[1][values[0].index("办不成原因")].startswith("'=HYPERLINK")
    # Clerks and kiosks do not read the ledger; bad input is a 4xx.
    assert (await api.get(f"/api/v1/reports/failed?{q}", headers=c1)).status_code == 403
    assert (await api.get("/api/v1/reports/failed?from=2026-13-01", headers=sup)).status_code == 422
    assert (await api.get("/api/v1/reports/failed?group_by=x", headers=sup)).status_code == 422

