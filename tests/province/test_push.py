"""Ratings reach the fake platform of province.md §4 as the profiles say, once, with receipts."""

from __future__ import annotations

import json

import pytest

from evaluator.events import SecondRatingRecorded
from tests.province.fake_platform import FakePlatform
from tests.province.support import ID_NUMBER, PHONE, wait_until

ENDPOINTS = {"zhejiang": (FakePlatform.ZJ,), "shandong": (FakePlatform.SD_SERVICE, FakePlatform.SD_RATING)}


def ratings_on(fake, profile):
    return fake.stored("zhejiang" if profile == "zhejiang" else "rating")


def key_of(profile, r):
    return (r["projectNo"], int(r["assessNumber"]) if profile == "zhejiang" else r["serviceNumber"])


def no_personal_data(rows):
    text = json.dumps(rows, ensure_ascii=False)
    assert ID_NUMBER[:10] not in text and PHONE[:7] not in text and "王小明" not in text


async def test_zhejiang_fields_as_the_platform_stores_them(make_hall, fake, clock):
    h = await make_hall(fake, "zhejiang")
    c = await h.serve("1")
    clock.advance(42)
    await h.rate(c, 2, reasons=0b100001, channel="qr")  # 服务态度差 (coded 501) and 其他 (no code)
    await h.settled()
    [r] = fake.stored("zhejiang")
    assert r["projectNo"] == c["project_no"] and r["assessNumber"] == "1"
    assert (r["pf"], r["satisfaction"], r["evalDetail"], r["writingEvaluation"]) == ("3", "2", "501", "其他")
    assert r["assessTime"] == __import__("datetime").datetime.fromtimestamp(
        clock.now, fake_tz()).strftime("%Y-%m-%d %H:%M:%S")  # the true time, not moved back (D8)
    assert (r["certkeyGOV"], r["userName"], r["proManager"], r["areaCode"]) == (
        ID_NUMBER, "王小明", "张三", "330201000000")
    [row] = await h.outbox()
    assert (row["state"], row["attempts"], row["http_status"], row["code"], row["message"]) == (
        "accepted", 1, 200, "0", "成功")
    no_personal_data(await h.outbox())


def fake_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


async def test_shandong_sends_the_service_first_and_signs_both(make_hall, fake):
    h = await make_hall(fake, "shandong")
    c = await h.serve("2", n=7)
    fake.script(fake.SD_SERVICE, "500", "502")  # the service fails twice: its rating waits (D5)
    await h.rate(c, 5, channel="pad")
    await wait_until(lambda: fake.outcomes(fake.SD_SERVICE)["502"] == 1)
    rows = {r["step"]: r for r in await h.outbox()}
    assert rows["rating"]["state"] == "blocked_on_service" and rows["rating"]["attempts"] == 0
    await h.settled()
    [svc], [rating] = fake.stored("service"), fake.stored("rating")
    assert svc["received_at"] <= rating["received_at"]
    assert svc["projectNo"] == rating["projectNo"] == "37" + c["project_no"]  # sd prefixes the province code
    assert (svc["serviceNumber"], rating["serviceNumber"], rating["pf"], rating["satisfaction"]) == (1, 1, "4", "5")
    assert svc["certKeyGOV"].endswith("1241") and svc["mobile"].endswith("0007")
    assert svc["orgcode"] == "330201000000_11330200MB1234567X" and svc["serviceTime"] <= rating["assessTime"]
    assert fake.outcomes(fake.SD_RATING) == {"accepted": 1}  # never sent before its service
    no_personal_data(await h.outbox())


@pytest.mark.parametrize("profile", ["zhejiang", "shandong"])
@pytest.mark.parametrize("fault", ["500", "502", "gateway", "reset", "timeout", "slow", "drop"])
async def test_every_fault_ends_with_the_rating_stored_once(make_hall, fake, profile, fault):
    fake.hold_s = 1.3  # past the client's timeout_s of 1
    h = await make_hall(fake, profile)
    c = await h.serve("1")
    for ep in ENDPOINTS[profile]:
        fake.script(ep, fault)
    await h.rate(c, 4)
    await h.settled(timeout=30)
    stored = ratings_on(fake, profile)
    assert [key_of(profile, r) for r in stored] == [(fake_prefix(profile) + c["project_no"], 1)]
    rows = await h.outbox()
    assert all(r["state"] in ("accepted", "duplicate") for r in rows)
    tries = await h.journal.fetchall("SELECT outcome, digest, maybe FROM province_attempts ORDER BY id")
    assert len({t["digest"] for t in tries if t}) == len(ENDPOINTS[profile])  # a resend is the same payload (D1)
    if fault in ("timeout", "drop"):  # maybe delivered: the resend uses the same key (D1, D6)
        assert any(t["maybe"] for t in tries)
    if fault == "drop":  # stored, answer lost: the resend comes back a duplicate
        assert "duplicate" in {r["state"] for r in rows}
    elif fault == "slow":
        assert [t["outcome"] for t in tries] == ["accepted"] * len(ENDPOINTS[profile])


def fake_prefix(profile):
    return "37" if profile == "shandong" else ""


@pytest.mark.parametrize("profile", ["zhejiang", "shandong"])
async def test_a_rejection_waits_for_a_supervisor_and_a_repush(make_hall, fake, profile):
    h = await make_hall(fake, profile)
    c = await h.serve("1")
    fake.script(ENDPOINTS[profile][-1], "reject:deptCode 与事项不匹配")
    r = await h.rate(c, 1, reasons=0b10)
    await wait_until(lambda: fake.outcomes(ENDPOINTS[profile][-1])["reject"] == 1)
    await h.settled()
    rows = await h.outbox(step="rating")
    assert (rows[0]["state"], rows[0]["message"]) == ("rejected", "deptCode 与事项不匹配")
    sent = len(fake.log)
    h.province.sender.wake()
    await h.province.sender.round()
    assert len(fake.log) == sent  # not retried by itself (D6)
    page = await h.api.get("/api/v1/province/outbox?state=rejected", headers=h.h["supervisor"])
    assert page.json()["records"][0]["message"] == "deptCode 与事项不匹配"
    clerk = await h.api.post(f"/api/v1/province/records/{r.rating_id}/repush", headers=h.h["clerk1"], json={})
    assert clerk.status_code == 403
    again = await h.api.post(f"/api/v1/province/records/{r.rating_id}/repush", headers=h.h["supervisor"], json={})
    assert again.status_code == 200, again.text
    await h.settled()
    assert len(ratings_on(fake, profile)) == 1
    [row] = await h.outbox(step="rating")
    assert (row["state"], row["repushes"], row["repushed_by"]) == ("accepted", 1, "督查员")
    twice = await h.api.post(f"/api/v1/province/records/{r.rating_id}/repush", headers=h.h["supervisor"], json={})
    assert twice.status_code == 409  # delivered: never sent again (D2)


@pytest.mark.parametrize("profile", ["zhejiang", "shandong"])
async def test_a_case_without_a_project_number_is_never_pushed(make_hall, fake, profile):
    h = await make_hall(fake, profile)
    c = await h.serve("1", bind=False)
    await h.rate(c, 5)
    await h.settled()
    assert fake.log == []  # nothing invented (D9)
    assert {r["state"] for r in await h.outbox()} == {"unpushable"}
    recon = (await h.api.get("/api/v1/province/reconciliation", headers=h.h["supervisor"])).json()["rows"]
    assert [(x["window"], x["stored"], x["unpushable"], x["delivered"]) for x in recon] == [("1", 1, 1, 0)]


async def test_second_rating_is_a_new_record(make_hall, fake):
    h = await make_hall(fake, "zhejiang")
    c = await h.serve("1")
    first = await h.rate(c, 1, reasons=1)
    await h.settled()
    rt = h.d.runtime
    await rt.record([SecondRatingRecorded(rt.clock() + 5, "second-" + first.rating_id[:8], c["case"], c["ticket"], 4,
                                          0, "整改后满意", "sms", "1", "1001", "A", first.day, c["project_no"])])
    await h.settled()
    stored = sorted(fake.stored("zhejiang"), key=lambda r: r["assessNumber"])
    assert [(r["assessNumber"], r["satisfaction"]) for r in stored] == [("1", "1"), ("2", "4")]  # never overwritten


async def test_shandong_second_rating_follows_a_new_service(make_hall, fake):
    h = await make_hall(fake, "shandong")
    c = await h.serve("1")
    first = await h.rate(c, 2, reasons=1)
    rt = h.d.runtime
    await rt.record([SecondRatingRecorded(rt.clock() + 5, "second-x", c["case"], c["ticket"], 5, 0, "", "wechat",
                                          "1", "1001", "A", first.day, c["project_no"])])
    await h.settled()
    assert sorted((r["serviceNumber"], r["satisfaction"]) for r in fake.stored("rating")) == [(1, "2"), (2, "5")]
    assert sorted(r["serviceNumber"] for r in fake.stored("service")) == [1, 2]


async def test_an_upheld_appeal_is_excluded_and_nothing_is_sent(make_hall, fake):
    h = await make_hall(fake, "zhejiang")
    fake.down(0, float("inf"))
    c = await h.serve("1")
    await h.rate(c, 1, reasons=1)
    await wait_until(lambda: fake.outcomes()["down"] >= 1)
    admin = h.h["supervisor"]
    r = await h.api.post(f"/api/v1/followups/{c['case']}/appeal", json={"reason": "评价人误操作"}, headers=admin)
    assert r.status_code == 200, r.text
    r = await h.api.post(f"/api/v1/followups/{c['case']}/decide-appeal", json={"upheld": True}, headers=admin)
    assert r.status_code == 200, r.text
    fake.downs.clear()
    h.province.sender.wake()
    await h.province.sender.round()
    [row] = await h.outbox()
    assert (row["state"], row["next_at"]) == ("excluded", None) and row["excluded_at"] is not None
    assert fake.stored("zhejiang") == []
    recon = (await h.api.get("/api/v1/province/reconciliation", headers=admin)).json()["rows"]
    assert [(x["stored"], x["excluded"], x["pending"]) for x in recon] == [(1, 1, 0)]


async def test_zhejiang_default_rating_waits_for_the_rating_window(make_hall, fake, clock):
    h = await make_hall(fake, "zhejiang", hall_extra="unrated_default = 3\nrating_window_days = 2")
    c = await h.serve("3")
    await h.d.adapter("EvaluatorAdapter").runtime.execute(__import__("evaluator.commands").commands.RatingTimeout(
        c["case"]))
    [row] = await h.outbox()
    assert (row["kind"], row["state"], row["hold_day"]) == ("default", "pending", _plus(row["day"], 2))
    await h.province.sender.round()
    assert fake.log == []  # a real rating may still replace it
    clock.advance(3 * 86400)
    await h.settled()
    [r] = fake.stored("zhejiang")
    assert (r["pf"], r["satisfaction"]) == ("7", "3")  # 系统默认评价


async def test_shandong_has_no_code_for_a_default_so_it_gets_none(make_hall, fake, clock):
    h = await make_hall(fake, "shandong", hall_extra="unrated_default = 3")
    c = await h.serve("3")
    from evaluator.commands import RatingTimeout

    await h.d.runtime.execute(RatingTimeout(c["case"]))
    clock.advance(30 * 86400)
    h.province.sender.wake()
    await h.province.sender.round()
    assert await h.outbox() == [] and fake.log == []


async def test_a_real_rating_supersedes_a_default_not_yet_sent(make_hall, fake):
    h = await make_hall(fake, "zhejiang", hall_extra="unrated_default = 3")
    c = await h.serve("3")
    from evaluator.commands import RatingTimeout

    await h.d.runtime.execute(RatingTimeout(c["case"]))
    await h.rate(c, 5, channel="qr")
    await h.settled()
    rows = await h.outbox()
    assert [(r["kind"], r["state"]) for r in rows] == [("default", "superseded"), ("first", "accepted")]
    assert [r["pf"] for r in fake.stored("zhejiang")] == ["3"]


async def test_no_default_where_the_hall_counts_no_silence(make_hall, fake):
    h = await make_hall(fake, "zhejiang")
    c = await h.serve("3")
    from evaluator.commands import RatingTimeout

    await h.d.runtime.execute(RatingTimeout(c["case"]))
    assert await h.outbox() == []  # unrated: nothing fabricated (D9)


def _plus(day: str, n: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


def test_backoff_doubles_to_the_cap_with_jitter():
    from evaluator.province.sender import Sender

    s = Sender(None, None, type("S", (), {"retry_base_s": 30.0, "retry_max_s": 3600.0, "profile": "zhejiang"})())
    for fails, ceiling in ((1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (40, 3600)):
        values = [s.backoff(fails) for _ in range(200)]
        assert all(ceiling / 2 <= v <= ceiling for v in values)
        assert max(values) - min(values) > ceiling / 10  # spread: jitter
