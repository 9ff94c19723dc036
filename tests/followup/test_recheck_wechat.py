"""二次评价 by WeChat subscribe notice (the fake WeChat), the SMS when the citizen refused the notice,
and the answer pushed to the province as a new record (assessNumber 2) through the outbox."""

from __future__ import annotations

from tests.followup.conftest import PUBLIC, TEMPLATE_RECHECK, eventually, make_tokens, sms_toml, wechat_toml


async def test_the_link_goes_by_wechat_notice_and_the_answer_is_recorded_as_wechat(make_hall, fake_sms, fake_wechat,
                                                                                   secret_file):
    h = await make_hall(wechat_toml(fake_wechat) + sms_toml(fake_sms, secret_file))
    t = make_tokens(h.db)
    openid = fake_wechat.add_user()
    case = await h.serve(t, openid=openid, phone="13905711234", project_no="330100202609180031")
    await h.rate_bad(case)
    await h.rectify(t["leader"], case["case"])
    await eventually(lambda: fake_wechat.messages)
    (msg,) = fake_wechat.messages
    assert msg["touser"] == openid and msg["template_id"] == TEMPLATE_RECHECK
    assert msg["data"]["thing1"]["value"] == "综合受理" and msg["page"].startswith(f"{PUBLIC}/r/")
    assert fake_sms.calls == []  # WeChat first: no SMS spent
    token = msg["page"].rsplit("/", 1)[1]
    r = await h.client.post(f"/api/v1/rechecks/{token}", json={"level": 5, "comment": "很好"})
    assert r.status_code == 201
    (row,) = await h.rows("SELECT channel, level FROM second_ratings")
    assert row == {"channel": "wechat", "level": 5}


async def test_a_refused_notice_falls_back_to_sms(make_hall, fake_sms, fake_wechat, secret_file):
    h = await make_hall(wechat_toml(fake_wechat) + sms_toml(fake_sms, secret_file))
    t = make_tokens(h.db)
    openid = fake_wechat.add_user()
    fake_wechat.refused.add(openid)  # 43101: the citizen did not accept the subscription
    case = await h.serve(t, openid=openid, phone="13905711234", project_no="330100202609180032")
    await h.rate_bad(case)
    await h.rectify(t["leader"], case["case"])
    await eventually(lambda: fake_sms.sent)
    assert [c["errcode"] for c in fake_wechat.sends()] == [43101]
    view = (await h.client.get(f"/api/v1/followups/{case['case']}", headers=t["leader"])).json()["recheck"]
    assert view["via"] == "sms"
    token = fake_sms.sent[0]["values"]["token"]
    assert (await h.client.post(f"/api/v1/rechecks/{token}", json={"level": 3})).status_code == 201
    (row,) = await h.rows("SELECT channel FROM second_ratings")
    assert row["channel"] == "sms"


async def test_the_citizens_judgement_reaches_the_province_as_a_second_record(make_hall, fake_sms, secret_file,
                                                                              clock, tmp_path):
    from tests.followup.conftest import ADAPTERS
    from tests.province.fake_platform import FakePlatform

    platform = FakePlatform(clock=clock).start()
    try:
        adapters = [*ADAPTERS[:2], "evaluator.province.service:ProvinceAdapter", *ADAPTERS[2:]]
        h = await make_hall(platform.province_toml("zhejiang", tmp_path) + sms_toml(fake_sms, secret_file), adapters)
        h.daemon.adapter("ProvinceAdapter").sender.poll_s = 0.05
        t = make_tokens(h.db)
        case = await h.serve(t, phone="13905711234", project_no="ZJ-1-09180041")
        await h.rate_bad(case)
        await h.rectify(t["leader"], case["case"])
        await eventually(lambda: fake_sms.sent)
        token = fake_sms.sent[0]["values"]["token"]
        r = await h.client.post(f"/r/{token}", data={"level": "4", "comment": "整改后满意"})
        assert r.status_code == 200
        await eventually(lambda: len(platform.stored("zhejiang")) == 2, timeout=15)
        stored = sorted(platform.stored("zhejiang"), key=lambda x: x["assessNumber"])
        assert [(x["projectNo"], x["assessNumber"], x["satisfaction"]) for x in stored] == [
            ("ZJ-1-09180041", "1", "1"), ("ZJ-1-09180041", "2", "4")]  # a new record, the first untouched
        outbox = await h.rows("SELECT kind, seq, state FROM province_outbox ORDER BY id")
        assert [(x["kind"], x["seq"]) for x in outbox] == [("first", 1), ("second", 2)]
    finally:
        platform.stop()
