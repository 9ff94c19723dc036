"""二次评价 by SMS: after 整改 the citizen gets a link by Aliyun SMS (the fake checks the HMAC-SHA1
signature and answers Aliyun's codes), opens a Chinese page, judges the fix once; failures are
retried or shown, never in the hall's way."""

from __future__ import annotations

import re
import time

from evaluator.sms import sign
from tests.followup.conftest import PUBLIC, eventually, make_tokens, sms_toml

PHONE = "13905711234"


async def recheck_in(h, t, case: int, state: str) -> dict | None:
    v = (await h.client.get(f"/api/v1/followups/{case}", headers=t["leader"])).json()["recheck"]
    return v if v["state"] == state else None


async def sms_hall(make_hall, fake_sms, secret_file, **over):
    h = await make_hall(sms_toml(fake_sms, secret_file, **over))
    return h, make_tokens(h.db)


def test_the_signature_is_aliyuns_documented_example():
    """Aliyun's own worked example of signature v1 (testId / testSecret, GET) gives its published value."""
    p = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
         "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
         "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
         "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
         "Version": "2017-05-25"}
    assert sign("testSecret", "GET", p) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


async def test_after_rectification_the_citizen_judges_the_fix_by_the_sms_link(make_hall, fake_sms, secret_file):
    h, t = await sms_hall(make_hall, fake_sms, secret_file)
    case = await h.serve(t, phone=PHONE, project_no="330100202609180001")
    await h.rate_bad(case)
    n = case["case"]
    await h.rectify(t["leader"], n)
    await eventually(lambda: fake_sms.sent)
    await eventually(lambda: recheck_in(h, t, case["case"], "sent"))
    (msg,) = fake_sms.sent
    assert msg["phone"] == PHONE and msg["out_id"] == str(n) and msg["values"]["hall"] == "高新区政务服务中心"
    token = msg["values"]["token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", token)
    call = fake_sms.calls[-1]["params"]
    assert call["SignatureMethod"] == "HMAC-SHA1" and call["Version"] == "2017-05-25" and fake_sms.codes() == ["OK"]

    view = (await h.client.get(f"/api/v1/followups/{n}", headers=t["leader"])).json()["recheck"]
    assert view["state"] == "sent" and view["via"] == "sms" and view["link"] == f"{PUBLIC}/r/{token}"
    other = (await h.client.get(f"/api/v1/followups/{n}", headers=t["other_sup"])).json()["recheck"]
    assert "link" not in other  # the link is a credential: only the handler sees it

    page = await h.client.get(f"/r/{token}")
    assert page.status_code == 200 and "整改结果评价" in page.text and "增开一个综合窗口" in page.text
    assert PHONE not in page.text and "王小明" not in page.text
    r = await h.client.post(f"/r/{token}", data={"level": "4", "comment": "现在快多了"})
    assert r.status_code == 200 and "感谢您的评价" in r.text
    (second,) = await h.rows("SELECT * FROM second_ratings")
    assert (second["case_id"], second["level"], second["channel"], second["comment"], second["project_no"]) == (
        n, 4, "sms", "现在快多了", "330100202609180001")
    item = (await h.client.get(f"/api/v1/followups/{n}", headers=t["supervisor"])).json()
    assert item["state"] == "closed" and item["verdict"] == "satisfied" and item["recheck"]["state"] == "answered"
    # One answer per 差评: the page and the API both refuse a second, in Chinese, nothing changes.
    again = await h.client.post(f"/r/{token}", data={"level": "1"})
    assert again.status_code == 409 and "已评价过本次整改" in again.text
    api = await h.client.post(f"/api/v1/rechecks/{token}", json={"level": 1})
    assert api.status_code == 409 and api.json()["error"]["code"] == "already_rated"
    assert len(await h.rows("SELECT * FROM second_ratings")) == 1
    # It was journaled: a restart keeps the answer and still refuses a second one.
    await h.restart()
    assert (await h.client.post(f"/api/v1/rechecks/{token}", json={"level": 2})).status_code == 409


async def test_an_unhappy_judgement_closes_the_item_dissatisfied_and_bad_links_are_404(make_hall, fake_sms,
                                                                                        secret_file):
    h, t = await sms_hall(make_hall, fake_sms, secret_file)
    case = await h.serve(t, phone=PHONE, project_no="330100202609180002")
    await h.rate_bad(case)
    await h.rectify(t["leader"], case["case"])
    await eventually(lambda: fake_sms.sent)
    token = fake_sms.sent[0]["values"]["token"]
    for bad in ("x" * 16, "%3Cscript%3Ealert(1)%3C%3E", token[:-1], token + "A", "'; DROP TABLE rechecks; --"):
        r = await h.client.get(f"/r/{bad}")
        assert r.status_code == 404 and "链接无效" in r.text
    for body in ({"level": 0}, {"level": 6}, {"level": "5"}, {"level": True}, {"level": 3, "comment": "长" * 501},
                 {"level": 3, "extra": 1}):
        r = await h.client.post(f"/api/v1/rechecks/{token}", json=body)
        assert r.status_code == 422, body
    r = await h.client.post(f"/r/{token}", data={"level": "9"})
    assert r.status_code == 422 and "请先选择" in r.text
    staff = await h.client.post(f"/api/v1/rechecks/{token}", json={"level": 5}, headers=t["supervisor"])
    assert staff.status_code == 403  # a supervisor never judges the fix for the citizen
    assert await h.rows("SELECT * FROM second_ratings") == []
    r = await h.client.post(f"/api/v1/rechecks/{token}", json={"level": 2, "comment": "还是一样慢"})
    assert r.status_code == 201 and r.json()["level_name"] == "不满意"
    item = (await h.client.get(f"/api/v1/followups/{case['case']}", headers=t["supervisor"])).json()
    assert item["verdict"] == "dissatisfied" and item["history"][-1]["by"] == "群众（二次评价）"


async def test_flow_control_is_retried_and_a_permanent_refusal_is_shown_then_resent(make_hall, fake_sms,
                                                                                     secret_file):
    h, t = await sms_hall(make_hall, fake_sms, secret_file)
    fake_sms.limit_next = 2  # 触发号码天级流控 twice, then it goes
    one = await h.serve(t, phone=PHONE, project_no="330100202609180003")
    await h.rate_bad(one)
    await h.rectify(t["leader"], one["case"])
    await eventually(lambda: fake_sms.sent)
    assert fake_sms.codes() == ["isv.BUSINESS_LIMIT_CONTROL", "isv.BUSINESS_LIMIT_CONTROL", "OK"]
    view = await eventually(lambda: recheck_in(h, t, one["case"], "sent"))
    assert view["attempts"] == 3

    fake_sms.templates.clear()  # the template was withdrawn at Aliyun: a person must fix it
    two = await h.serve(t, phone="13905715678", project_no="330100202609180004")
    await h.rate_bad(two)
    await h.rectify(t["leader"], two["case"])

    async def failed():
        v = (await h.client.get(f"/api/v1/followups/{two['case']}", headers=t["leader"])).json()["recheck"]
        return v if v["state"] == "failed" else None

    view = await eventually(failed)
    assert view["code"] == "isv.SMS_TEMPLATE_ILLEGAL" and "模板" in view["message"] and view["attempts"] == 1
    page = await h.page(t["leader"], f"/admin/followups/{two['case']}")
    assert "发送失败" in page.text and "isv.SMS_TEMPLATE_ILLEGAL" in page.text and "重新发送" in page.text
    from tests.followup.fake_aliyun_sms import TEMPLATE, TEMPLATE_VARS

    fake_sms.templates[TEMPLATE] = TEMPLATE_VARS
    item = await h.act(t["leader"], two["case"], "recheck", {})
    assert item["recheck"]["state"] in ("pending", "sent")
    await eventually(lambda: len(fake_sms.sent) == 2)
    assert fake_sms.sent[1]["phone"] == "13905715678"


async def test_a_wrong_secret_is_refused_by_the_signature_check(make_hall, fake_sms, tmp_path):
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("not-the-secret", encoding="utf-8")
    h, t = await sms_hall(make_hall, fake_sms, str(wrong))
    case = await h.serve(t, phone=PHONE, project_no="330100202609180005")
    await h.rate_bad(case)
    await h.rectify(t["leader"], case["case"])
    await eventually(lambda: fake_sms.calls)

    async def failed():
        v = (await h.client.get(f"/api/v1/followups/{case['case']}", headers=t["leader"])).json()["recheck"]
        return v if v["state"] == "failed" else None

    view = await eventually(failed)
    assert view["code"] == "SignatureDoesNotMatch" and fake_sms.sent == []
    assert "not-the-secret" not in (h.tmp / "hall.sqlite3").read_bytes().decode("latin-1")


async def test_an_unreachable_provider_never_holds_up_the_hall(make_hall, fake_sms, secret_file):
    h, t = await sms_hall(make_hall, fake_sms, secret_file, timeout_s=1)
    fake_sms.stop()  # the provider is gone: connections are refused
    case = await h.serve(t, phone=PHONE, project_no="330100202609180006")
    await h.rate_bad(case)
    await h.rectify(t["leader"], case["case"])

    async def retried():
        v = (await h.client.get(f"/api/v1/followups/{case['case']}", headers=t["leader"])).json()["recheck"]
        return v if v["attempts"] >= 1 and v["state"] in ("retrying", "failed") else None

    view = await eventually(retried)
    assert view["code"] == "network"
    t0 = time.perf_counter()
    for _ in range(5):
        await h.serve(t)
    assert time.perf_counter() - t0 < 2.0  # five tickets issued, called, finished while the SMS fails


async def test_no_way_to_reach_the_citizen_says_why(make_hall, fake_sms, secret_file):
    h, t = await sms_hall(make_hall, fake_sms, secret_file)
    case = await h.serve(t)  # no 办件, no phone, no WeChat
    await h.rate_bad(case)
    await h.rectify(t["leader"], case["case"])
    item = (await h.client.get(f"/api/v1/followups/{case['case']}", headers=t["leader"])).json()
    assert item["recheck"]["state"] == "none" and "没有群众的联系方式" in item["recheck"]["why"]
    r = await h.act(t["leader"], case["case"], "recheck", {}, 409)
    assert "没有群众的联系方式" in r["error"]["message"]
    assert fake_sms.calls == []


async def test_an_expired_link_and_an_item_under_appeal_take_no_answer(make_hall, fake_sms, secret_file):
    h, t = await sms_hall(make_hall, fake_sms, secret_file)
    one = await h.serve(t, phone=PHONE, project_no="330100202609180007")
    await h.rate_bad(one)
    await h.rectify(t["leader"], one["case"])
    two = await h.serve(t, phone="13905715678", project_no="330100202609180008")
    await h.rate_bad(two)
    await h.rectify(t["leader"], two["case"])
    await eventually(lambda: len(fake_sms.sent) == 2)
    by_case = {int(m["out_id"]): m["values"]["token"] for m in fake_sms.sent}
    await h.act(t["supervisor"], two["case"], "appeal", {"reason": "群众反映的情况与监控记录不符"})
    r = await h.client.post(f"/api/v1/rechecks/{by_case[two['case']]}", json={"level": 1})
    assert r.status_code == 409 and "申诉" in r.json()["error"]["message"]
    h.clock.advance(16 * 86400)  # the link is valid 15 days
    page = await h.client.get(f"/r/{by_case[one['case']]}")
    assert page.status_code == 409 and "评价链接已过期" in page.text
    r = await h.client.post(f"/api/v1/rechecks/{by_case[one['case']]}", json={"level": 4})
    assert r.status_code == 409 and r.json()["error"]["code"] == "rating_closed"
    assert await h.rows("SELECT * FROM second_ratings") == []
