"""Reports over a simulated month driven through the engine and the journal.

The test keeps its own tally of what it made happen (who was served where, by whom, how long they
waited, how each case was rated) and checks every report figure against it, in JSON, CSV and XLSX.
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import date, timedelta

import httpx
import openpyxl

from evaluator.commands import Rate, RatingTimeout
from evaluator.errors import AlreadyRated
from evaluator.reports import p90
from queued.config import parse_config
from queued.core import commands as c
from queued.core import events as e
from queued.daemon import Daemon
from tests.evaluator.conftest import EVALUATOR
from tests.support import token

FIRST_DAY = date(2026, 3, 2)  # a Monday
DAYS = 20
REASONS = ("服务态度差", "办事效率低", "一次告知不清", "多次跑腿", "流程繁琐", "其他")

MONTH_HALL = """
[daemon]
database = "{db}"
http = "127.0.0.1:1"

[hall]
id = "month"
name = "月度测试中心"
max_wait_minutes = 600
service_days = ["sat", "sun"]  # the month is served every day
department = "测试区行政审批局"
region_code = "510100"

[[business]]
code = "A"
name = "综合受理"
item_code = "11510100MB0000001"

[[business]]
code = "B"
name = "不动产登记"
item_code = "11510100MB0000002"

[[business]]
code = "C"
name = "社保医保"

[[business]]
code = "D"
name = "税务办理"
{clerks}
{windows}
"""
CLERKS = [f"20{i:02d}" for i in range(1, 9)]
NAMES = ["赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七", "王八"]
WINDOWS = {"1": ["A", "B"], "2": ["B", "A"], "3": ["C", "A"], "4": ["D", "C"], "5": ["A", "D"], "10": ["B", "C"]}


def month_config(db: str):
    clerks = "".join(f'\n[[clerk]]\nid = "{k}"\nname = "{n}"\n' for k, n in zip(CLERKS, NAMES, strict=True))
    windows = "".join(f'\n[[window]]\nid = "{w}"\nbusinesses = {bs!r}\n'.replace("'", '"') for w, bs in WINDOWS.items())
    return parse_config(MONTH_HALL.format(db=db, clerks=clerks, windows=windows), source="month")


class Tally:
    """What the simulation did, kept independently of the database."""

    def __init__(self):
        self.tickets: dict[str, dict] = {}  # id → business, day, issued_at, window, clerk, status, first_call, service
        self.cases: dict[int, dict] = {}  # case → day, window, clerk, business, level, reasons, channel
        self.refused = 0


async def simulate(rt, adapter, clock, rnd: random.Random) -> Tally:
    tally = Tally()
    deferred: list[tuple[int, Rate]] = []  # ratings given by QR the next day
    for d in range(DAYS):
        day = FIRST_DAY + timedelta(days=d)
        clock.now = rt.calendar.at(day.isoformat(), 9 * 60)
        for case, cmd in deferred:
            await rate(adapter, tally, case, cmd)
        deferred = []
        sitting = {}
        for i, w in enumerate(WINDOWS):
            clerk = CLERKS[(i + d) % len(CLERKS)]
            await rt.execute(c.SignIn(w, clerk))
            sitting[w] = clerk
        for n in range(rnd.randint(12, 20)):
            business = rnd.choice("AABBCD")
            # Every ticket has its holder's key (its QR code) and an openid (as if shown at the kiosk).
            events, _ = await rt.execute(c.IssueTicket(business, f"t{d}-{n}", openid=f"o{d}-{n}",
                                                       rating_key=f"k{d}-{n}"))
            ev = events[-1]
            tally.tickets[ev.ticket] = {"business": business, "day": day.isoformat(), "issued_at": ev.at,
                                        "window": None, "clerk": None, "status": "waiting", "first_call": None,
                                        "service": None}
            clock.advance(rnd.randint(5, 90))
        for t in list(tally.tickets.values()):
            if t["day"] == day.isoformat() and rnd.random() < 0.05:
                tid = next(k for k, v in tally.tickets.items() if v is t)
                await rt.execute(c.CancelTicket(tid, check_holder=False, reason="admin"))
                t["status"] = "cancelled"
        windows = list(WINDOWS)
        while rt.engine.queues and any(rt.engine.waiting_for_window(w) for w in windows):
            w = rnd.choice(windows)
            events, _ = await rt.execute(c.CallNext(w))
            called = [x for x in events if isinstance(x, e.TicketCalled)]
            if not called:
                continue
            t = tally.tickets[called[0].ticket]
            t.update(window=w, clerk=sitting[w], status="called")
            t["first_call"] = t["first_call"] or called[0].at
            clock.advance(rnd.randint(10, 60))
            if rnd.random() < 0.06:
                await rt.execute(c.Skip(w))
                t["status"] = "skipped"
                continue
            start = called[0].at  # 办结 from 呼叫 without 开始: the service ran from the call (http-api.md)
            clock.advance(rnd.randint(60, 900))
            events, _ = await rt.execute(c.Finish(w))
            fin = events[-1]
            assert isinstance(fin, e.TicketFinished)
            t.update(status="done", service=clock.now - start)
            tally.cases[fin.case] = {"day": day.isoformat(), "window": w, "clerk": sitting[w], "business": t["business"],
                                     "level": None, "reasons": 0, "channel": None}
            roll = rnd.random()
            if roll < 0.08:
                continue  # nobody rated: open
            if roll < 0.16:
                await rt.execute(RatingTimeout(fin.case))
                continue
            level = rnd.choice([5, 5, 5, 4, 4, 3, 2, 1])
            reasons = rnd.choice([0, 1, 2, 5, 8, 0b110000, 0b111111]) if level <= 2 else 0
            comment = rnd.choice(["", "很好", "请联系 13812345678", "身份证 510104199001011234 办不了"])
            key, openid = f"k{fin.ticket[1:]}", f"o{fin.ticket[1:]}"
            # The channel is what proved the rater: the pad at the window, the QR code's key, the WeChat session.
            cmd = rnd.choice([Rate(level, case=fin.case, reasons=reasons, channel="pad", comment=comment),
                              Rate(level, ticket=fin.ticket, reasons=reasons, key=key, comment=comment),
                              Rate(level, ticket=fin.ticket, reasons=reasons, openid=openid, comment=comment)])
            if roll > 0.9 and d < DAYS - 1:
                deferred.append((fin.case, Rate(level, ticket=fin.ticket, reasons=reasons, key=key)))
                continue
            await rate(adapter, tally, fin.case, cmd)
            if rnd.random() < 0.05:  # someone tries again
                try:
                    await adapter.rate(Rate(rnd.randint(1, 5), ticket=fin.ticket, key=key))
                except AlreadyRated:
                    tally.refused += 1
        for w in windows:
            await rt.execute(c.SignOut(w))
    return tally


async def rate(adapter, tally: Tally, case: int, cmd: Rate) -> None:
    x = await adapter.rate(cmd)
    assert x.channel == (cmd.channel or ("qr" if cmd.key else "wechat"))
    tally.cases[case].update(level=cmd.level, reasons=cmd.reasons, channel=x.channel)


def expected_reviews(tally: Tally, group_by: str) -> dict:
    out: dict = defaultdict(lambda: defaultdict(int))
    for case in tally.cases.values():
        row = out[case[group_by]]
        row["served"] += 1
        level = case["level"]
        if level is None:
            continue
        row["rated"] += 1
        row[{5: "very_satisfied", 4: "satisfied", 3: "basic_satisfied", 2: "dissatisfied",
             1: "very_dissatisfied"}[level]] += 1
        row["good" if level >= 3 else "bad"] += 1
        if level <= 2:
            row["no_reason"] += case["reasons"] == 0
            for i in range(len(REASONS)):
                row[f"reason_{i + 1}"] += bool(case["reasons"] >> i & 1)
    return out


def expected_queues(tally: Tally, group_by: str) -> dict:
    groups: dict = defaultdict(list)
    for t in tally.tickets.values():
        groups[t[group_by]].append(t)
    out = {}
    for key, ts in groups.items():
        waits = [t["first_call"] - t["issued_at"] for t in ts if t["first_call"] is not None]
        services = [t["service"] for t in ts if t["status"] == "done"]
        out[key] = {
            "issued": len(ts), "served": len(services), "skipped": sum(t["status"] == "skipped" for t in ts),
            "cancelled": sum(t["status"] == "cancelled" for t in ts),
            "avg_wait_s": round(sum(waits) / len(waits), 1) if waits else None,
            "p90_wait_s": round(p90(waits), 1) if waits else None,
            "avg_service_s": round(sum(services) / len(services), 1) if services else None,
            "skip_rate": round(sum(t["status"] == "skipped" for t in ts) / len(ts), 4),
            "over_yellow": sum(w >= 30 * 60 for w in waits), "over_red": sum(w >= 45 * 60 for w in waits),
        }
    return out


async def test_month_reports_match_what_happened(tmp_path, clock):
    cfg = month_config(str(tmp_path / "month.sqlite3"))
    d = Daemon(cfg, clock=clock, adapters=[EVALUATOR])
    clock.now = d.runtime.calendar.at(FIRST_DAY.isoformat(), 8 * 60)
    await d.start()
    try:
        adapter = d.adapter("EvaluatorAdapter")
        adapter.timeout_delay = 3600.0
        tally = await simulate(d.runtime, adapter, clock, random.Random(20260302))
        sup = {"Authorization": f"Bearer {token(cfg.database, 'supervisor')}"}
        last = (FIRST_DAY + timedelta(days=DAYS - 1)).isoformat()
        span = f"from={FIRST_DAY.isoformat()}&to={last}"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as api:
            await check_reviews(api, sup, span, tally)
            await check_queues(api, sup, span, tally)
            await check_exports(api, sup, span, tally)
            await check_national(api, sup, span, tally)
            # One day alone: only that day's cases.
            one = (FIRST_DAY + timedelta(days=3)).isoformat()
            r = await api.get(f"/api/v1/reports/reviews?from={one}&to={one}&group_by=day", headers=sup)
            assert [row["key"] for row in r.json()["rows"]] == [one]
            assert r.json()["rows"][0]["served"] == sum(1 for x in tally.cases.values() if x["day"] == one)
        refused = await d.runtime.journal.fetchone("SELECT COUNT(*) FROM rating_refusals")
        assert refused[0] == tally.refused > 0
    finally:
        await d.stop()


async def check_reviews(api, sup, span, tally):
    for group_by in ("clerk", "window", "business", "day"):
        r = await api.get(f"/api/v1/reports/reviews?{span}&group_by={group_by}", headers=sup)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["group_by"] == group_by
        want = expected_reviews(tally, group_by)
        got = {row["key"]: row for row in body["rows"]}
        assert set(got) == set(want), group_by
        for key, exp in want.items():
            row = got[key]
            for f in ("served", "rated", "good", "bad", "very_satisfied", "satisfied", "basic_satisfied",
                      "dissatisfied", "very_dissatisfied", "no_reason", *(f"reason_{i}" for i in range(1, 7))):
                assert row[f] == exp[f], (group_by, key, f)
            assert row["unrated"] == exp["served"] - exp["rated"]
            assert row["good_rate"] == (round(exp["good"] / exp["rated"], 4) if exp["rated"] else None)
            assert row["bad_rate"] == (round(exp["bad"] / exp["rated"], 4) if exp["rated"] else None)
        if group_by == "clerk":
            assert {row["name"] for row in body["rows"]} <= set(NAMES)
        if group_by == "window":
            assert [row["key"] for row in body["rows"]] == ["1", "2", "3", "4", "5", "10"]


async def check_queues(api, sup, span, tally):
    for group_by in ("clerk", "window", "business", "day"):
        r = await api.get(f"/api/v1/reports/queues?{span}&group_by={group_by}", headers=sup)
        assert r.status_code == 200, r.text
        want = expected_queues(tally, group_by)
        got = {row["key"]: row for row in r.json()["rows"]}
        assert set(got) == set(want), group_by
        # the month has waits past both lines and skips, so those columns are really compared
        assert sum(x["over_red"] for x in want.values()) > 0 and sum(x["skipped"] for x in want.values()) > 0
        for key, exp in want.items():
            for f, v in exp.items():
                if f.endswith("_s") and v is not None:
                    assert abs(got[key][f] - v) < 0.051, (group_by, key, f, got[key][f], v)
                else:
                    assert got[key][f] == v, (group_by, key, f)


async def check_exports(api, sup, span, tally):
    r = await api.get(f"/api/v1/reports/reviews?{span}&group_by=clerk&format=csv", headers=sup)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in r.content
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    header = rows[0]  # one header row, in Chinese
    assert header[:12] == ["分组", "名称", "办件数", "评价数", "未评价", "默认评价", "好评", "差评", "好评率",
                           "差评率", "非常满意", "满意"]
    assert "非常不满意" in header and not any(c.isascii() and c.isalpha() for h in header for c in h)
    want = expected_reviews(tally, "clerk")
    by_key = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert {row["名称"] for row in by_key.values()} <= set(NAMES)  # Chinese survives the round trip
    for key, exp in want.items():
        assert int(by_key[key]["办件数"]) == exp["served"]
        assert int(by_key[key]["差评"]) == exp["bad"]
        rated = int(by_key[key]["评价数"])
        if rated:  # a rate is a percentage, to 0.1%
            assert by_key[key]["差评率"] == f"{exp['bad'] / rated * 100:.1f}%"

    r = await api.get(f"/api/v1/reports/queues?{span}&group_by=business&format=xlsx", headers=sup)
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = list(ws.values)
    assert list(values[0][:12]) == ["分组", "名称", "取号数", "办件数", "过号", "取消", "平均等候(秒)",
                                    "90%等候(秒)", "平均办理(秒)", "过号率", "等候超黄线", "等候超红线"]
    assert {"留号(未办)", "延时(分钟)", "饱和度"} <= set(values[0])
    assert any(str(h).startswith("暂停(分钟)：") for h in values[0])
    assert isinstance(values[1][2], int)  # the rows start right under the one header row
    rate = ws.cell(2, 10)
    assert rate.number_format == "0.0%" and (rate.value is None or isinstance(rate.value, float))
    sat = ws.cell(2, list(values[0]).index("饱和度") + 1)
    assert sat.value is None or sat.number_format == "0.0%"
    want = expected_queues(tally, "business")
    got = {row[0]: row for row in values[1:]}
    assert set(got) == set(want)
    assert got["B"][1] == "不动产登记"
    for key, exp in want.items():
        assert got[key][2] == exp["issued"] and got[key][3] == exp["served"]


async def check_national(api, sup, span, tally):
    rated = {k: v for k, v in tally.cases.items() if v["level"] is not None}
    for scheme in ("national", "gbt"):
        r = await api.get(f"/api/v1/reports/national?{span}&scheme={scheme}", headers=sup)
        assert r.status_code == 200
        rows = r.json()["rows"]
        assert len(rows) == len(rated)
        for row in rows:
            case = rated[int(row["local_no"].split("-")[1])]
            assert row["case_no"] == ""  # served with no 办件 bound: no 办件编号, none invented
            want = case["level"] if scheme == "national" else 6 - case["level"]
            assert row["satisfaction"] == want
            assert row["pf"] == {"web": 1, "wechat": 2, "qr": 3, "pad": 4}[case["channel"]]
            assert row["department"] == "测试区行政审批局"
            assert "13812345678" not in row["comment"] and "510104199001011234" not in row["comment"]
            if case["business"] == "A":
                assert row["item_code"] == "11510100MB0000001"
    r = await api.get(f"/api/v1/reports/national?{span}&format=csv", headers=sup)
    text = r.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("办件编号,本厅编号,事项编码,事项名称")
    assert "138****5678" in text and "510104********1234" in text
