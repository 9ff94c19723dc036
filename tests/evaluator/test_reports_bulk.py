"""The report SQL over bulk rows written straight into the projection tables (as the benchmark does),
checked against counts the test makes in Python; plus the national export's numbering."""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict

from evaluator import national
from evaluator.reports import p90

DAYS = ["2026-04-01", "2026-04-02", "2026-04-03", "2026-04-07"]
LEVELS = {5: "very_satisfied", 4: "satisfied", 3: "basic_satisfied", 2: "dissatisfied", 1: "very_dissatisfied"}


def fill(db: str, rnd: random.Random, n: int = 3000) -> tuple[list[dict], list[dict]]:
    tickets, cases = [], []
    for serial in range(1, n + 1):
        day = rnd.choice(DAYS)
        business = rnd.choice("ABC")
        window = rnd.choice(["1", "2", "3"])
        clerk = rnd.choice(["1001", "1002", None])
        issued = 1_775_000_000 + rnd.randint(0, 30000)
        status = rnd.choice(["done"] * 8 + ["skipped", "cancelled", "waiting"])
        called = issued + rnd.randint(0, 3000) + rnd.random() if status in ("done", "skipped") else None
        service = rnd.randint(30, 900) + 0.25 if status == "done" else None
        t = {"id": f"b{serial}", "serial": serial, "day": day, "business": business,
             "window": window if called else None, "clerk": clerk if called else None, "status": status,
             "issued": issued, "called": called, "service": service}
        tickets.append(t)
        if status != "done":
            continue
        level = rnd.choice([5, 4, 3, 2, 1, None, None])
        state = "rated" if level else rnd.choice(["open", "unrated", "defaulted"])
        defaulted = state == "defaulted"
        if defaulted:
            level = 3
        reasons = rnd.randrange(64) if level and level <= 2 and not defaulted else 0
        cases.append({"case": serial, "ticket": t["id"], "day": day, "business": business, "window": window,
                      "clerk": clerk, "state": state, "level": level, "reasons": reasons, "defaulted": defaulted,
                      "channel": "default" if defaulted else rnd.choice(["pad", "qr", "web", "wechat"]),
                      "at": called + service})
    conn = sqlite3.connect(db, timeout=10)
    with conn:
        conn.executemany(
            "INSERT INTO tickets (id, serial, day, number, business, channel, priority, issued_at, first_called_at,"
            " called_at, finished_at, window, clerk, status, service_s) VALUES (?,?,?,?,?,'kiosk','normal',?,?,?,?,?,?,?,?)",
            [(t["id"], t["serial"], t["day"], f"{t['business']}{t['serial']:05d}", t["business"], t["issued"],
              t["called"], t["called"], (t["called"] or 0) + (t["service"] or 0) if t["service"] else None,
              t["window"], t["clerk"], t["status"], t["service"]) for t in tickets])
        conn.executemany(
            "INSERT INTO cases (case_id, ticket, day, number, business, window, clerk, finished_at, state, level,"
            " defaulted, reasons) VALUES (?,?,?,'X',?,?,?,?,?,?,?,?)",
            [(c["case"], c["ticket"], c["day"], c["business"], c["window"], c["clerk"], c["at"], c["state"],
              c["level"], int(c["defaulted"]), c["reasons"]) for c in cases])
        conn.executemany(
            "INSERT INTO ratings (case_id, ticket, day, at, business, window, clerk, level, reasons, channel, defaulted)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(c["case"], c["ticket"], c["day"], c["at"] + 5, c["business"], c["window"], c["clerk"], c["level"],
              c["reasons"], c["channel"], int(c["defaulted"])) for c in cases if c["state"] != "open"])
    conn.close()
    return tickets, cases


async def test_bulk_rows_reports_equal_python_counts(api, tokens, daemon):
    tickets, cases = fill(daemon.config.database, random.Random(7))
    sup = tokens["supervisor"]
    span = "from=2026-04-01&to=2026-04-03"  # 04-07 is outside
    in_span = [c for c in cases if c["day"] <= "2026-04-03"]
    for group_by in ("clerk", "window", "business", "day"):
        want: dict = defaultdict(lambda: defaultdict(int))
        for c in in_span:
            row = want[c[group_by]]
            row["served"] += 1
            if c["level"] is not None:
                row["rated"] += 1
                row[LEVELS[c["level"]]] += 1
                row["defaulted"] += c["defaulted"]
                if c["level"] <= 2:
                    row["bad"] += 1
                    row["no_reason"] += c["reasons"] == 0
                    for i in range(6):
                        row[f"reason_{i + 1}"] += bool(c["reasons"] >> i & 1)
        r = await api.get(f"/api/v1/reports/reviews?{span}&group_by={group_by}", headers=sup)
        got = {row["key"]: row for row in r.json()["rows"]}
        assert set(got) == set(want)
        for key, exp in want.items():
            for f, v in exp.items():
                assert got[key][f] == v, (group_by, key, f)
            assert got[key]["unrated"] == exp["served"] - exp["rated"]

        r = await api.get(f"/api/v1/reports/queues?{span}&group_by={group_by}", headers=sup)
        got = {row["key"]: row for row in r.json()["rows"]}
        groups: dict = defaultdict(list)
        for t in tickets:
            if t["day"] <= "2026-04-03":
                groups[t[group_by]].append(t)
        assert set(got) == set(groups)
        for key, ts in groups.items():
            waits = [t["called"] - t["issued"] for t in ts if t["called"] is not None]
            assert got[key]["issued"] == len(ts)
            assert got[key]["skipped"] == sum(t["status"] == "skipped" for t in ts)
            assert got[key]["p90_wait_s"] == (round(p90(waits), 1) if waits else None), (group_by, key)


def test_satisfaction_numbering_is_reversed_for_gbt_only():
    assert [national.satisfaction(level, "national") for level in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 5]
    assert [national.satisfaction(level, "gbt") for level in (1, 2, 3, 4, 5)] == [5, 4, 3, 2, 1]
    assert national.pf_code("pad", False) == 4 and national.pf_code("qr", False) == 3
    assert national.pf_code("wechat", False) == 2 and national.pf_code("web", False) == 1
    assert national.pf_code("default", True, default_pf=5) == 5
    assert national.mask_openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") == "oUp" + "*" * 23 + "6o"
    assert national.mask_text("电话13912345678，证件11010519491231002X") == "电话139****5678，证件110105********002X"


def test_p90_is_nearest_rank():
    assert p90([]) is None
    assert p90([5.0]) == 5.0
    assert p90(list(range(1, 11))) == 9  # ceil(0.9·10) = 9th
    assert p90(list(range(1, 71))) == 63  # ceil(0.9·70) = 63, where 0.9*70 in floats is 63.000…01
