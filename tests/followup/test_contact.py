"""The citizen's phone for the 差评 call-back: from the 办件 or (with consent) from the citizen's
own page; checked strictly; whole only for the supervisor handling the item, masked elsewhere;
a call-back needs a note of what was said."""

from __future__ import annotations

import logging

import pytest

from queued.core import commands as c
from queued.core.phone import InvalidPhone, mask_phone, normalize_phone
from tests.followup.conftest import make_tokens

PHONE = "13812345678"
HOSTILE = ["1381234567", "138123456789", "23812345678", "12812345678", "138 1234 5678", "138-1234-5678",
           "１３８１２３４５６７８", "13812345678\n", "+8613812345678x", "abc", "1381234567８", "0571-88888888",
           "13812345678; DROP TABLE cases", "١٣٨١٢٣٤٥٦٧٨"]


def test_phone_numbers_are_checked_strictly():
    assert normalize_phone("") == ""
    assert normalize_phone(PHONE) == normalize_phone("+86" + PHONE) == normalize_phone("0086" + PHONE) == PHONE
    for bad in HOSTILE:
        with pytest.raises(InvalidPhone) as exc:
            normalize_phone(bad)
        assert "手机号格式不正确" in exc.value.message
    assert mask_phone(PHONE) == "138****5678" and mask_phone("") == ""


async def test_a_hostile_phone_on_the_case_is_refused_and_nothing_is_bound(make_hall):
    h = await make_hall()
    t = make_tokens(h.db)
    r = await h.client.post("/api/v1/tickets", json={"business": "A"}, headers=t["kiosk"])
    await h.client.post("/api/v1/windows/1/call-next", headers=t["clerk1"])
    for bad in HOSTILE:
        with pytest.raises(InvalidPhone):
            await h.daemon.runtime.execute(c.BindCase("1", "P-1", "x", "营业执照", "", "王小明", "", bad))
    assert await h.rows("SELECT * FROM case_bindings") == []
    await h.daemon.runtime.execute(c.BindCase("1", "P-1", "x", "营业执照", "", "王小明", "", "+86" + PHONE))
    (row,) = await h.rows("SELECT applicant_phone FROM case_bindings")
    assert row["applicant_phone"] == PHONE and r.status_code == 201


async def test_the_handler_sees_the_phone_everyone_else_a_masked_one(make_hall, caplog):
    caplog.set_level(logging.DEBUG)
    h = await make_hall()
    t = make_tokens(h.db)
    case = await h.serve(t, phone=PHONE, project_no="330100202609180011")
    await h.rate_bad(case)
    n = case["case"]
    mine = (await h.client.get(f"/api/v1/followups/{n}", headers=t["leader"])).json()
    assert (mine["phone"], mine["phone_masked"], mine["phone_source"]) == (PHONE, False, "case")
    for who in ("other_sup", "admin", "supervisor"):  # supervisor: no --clerk, the item names leader 1002
        other = (await h.client.get(f"/api/v1/followups/{n}", headers=t[who])).json()
        assert (other["phone"], other["phone_masked"]) == ("138****5678", True), who
    listing = (await h.client.get("/api/v1/followups", headers=t["leader"])).json()["followups"]
    assert [x["phone"] for x in listing] == ["138****5678"]  # lists mask it, even for the handler
    csv = await h.client.get("/api/v1/reports/followups?format=csv&group_by=window", headers=t["leader"])
    assert csv.status_code == 200 and PHONE not in csv.text

    page = await h.page(t["leader"], f"/admin/followups/{n}")
    assert PHONE in page.text and "办件登记" in page.text
    page = await h.page(t["other_sup"], f"/admin/followups/{n}")
    assert PHONE not in page.text and "138****5678" in page.text and "仅整改负责人可见" in page.text
    page = await h.page(t["leader"], "/admin/followups")
    assert PHONE not in page.text and "138****5678" in page.text
    assert "built-in method" not in page.text  # the month's 差评 count, not the dict's method

    # A call-back needs a note of what was said: refused in Chinese, nothing recorded.
    for note in ("", "   ", "\n\t"):
        r = await h.client.post(f"/api/v1/followups/{n}/callback", json={"contacted": True, "note": note},
                                headers=t["leader"])
        assert r.status_code == 422 and "请填写回访记录" in r.json()["error"]["message"]
    r = await h.client.post(f"/api/v1/followups/{n}/callback", json={"contacted": False}, headers=t["leader"])
    assert r.status_code == 422 and "请填写回访记录" in r.json()["error"]["message"]
    item = (await h.client.get(f"/api/v1/followups/{n}", headers=t["leader"])).json()
    assert item["state"] == "open" and item["attempts"] == 0 and [x["action"] for x in item["history"]] == ["opened"]
    await h.act(t["leader"], n, "callback", {"contacted": True, "note": "已致电，群众反映等候太久，已致歉"})
    assert PHONE not in caplog.text  # never in the logs


async def test_the_citizen_leaves_a_phone_with_consent_after_a_bad_rating(make_hall):
    h = await make_hall()
    t = make_tokens(h.db)
    case = await h.serve(t)  # no 办件: no phone with the case
    rated = await h.rate_bad(case)
    key = h.keys[case["ticket"]]
    body = {"ticket": case["ticket"], "case": rated["case"], "key": key, "phone": PHONE, "consent": True}
    bad_bodies = [({**body, "consent": False}, 422, "请勾选"), ({k: v for k, v in body.items() if k != "consent"}, 422, "请勾选"),
                  ({**body, "consent": "yes"}, 422, None), ({**body, "phone": ""}, 422, "请填写手机号"),
                  ({**body, "key": "x" * 16}, 403, None), ({**body, "extra": 1}, 422, None),
                  ({**body, "case": -1}, 422, None), ({**body, "phone": 13812345678}, 422, None)]
    bad_bodies += [({**body, "phone": p}, 422, "手机号格式不正确") for p in HOSTILE if len(p) <= 20]
    for bad, status, text in bad_bodies:
        r = await h.client.post("/api/v1/contacts", json=bad)
        assert r.status_code == status, (bad, r.text)
        if text:
            assert text in r.json()["error"]["message"]
    staff = await h.client.post("/api/v1/contacts", json=body, headers=t["supervisor"])
    assert staff.status_code == 403
    assert await h.rows("SELECT * FROM case_contacts") == []
    r = await h.client.post("/api/v1/contacts", json=body)
    assert r.status_code == 201 and r.json() == {"case": rated["case"], "phone": "138****5678", "consent": True}
    (row,) = await h.rows("SELECT * FROM case_contacts")
    assert (row["phone"], row["channel"]) == (PHONE, "qr") and row["consent_at"] > 0
    mine = (await h.client.get(f"/api/v1/followups/{rated['case']}", headers=t["leader"])).json()
    assert (mine["phone"], mine["phone_source"]) == (PHONE, "citizen")
    assert mine["phone_source_text"] == "群众本人留下（已同意回访）"
    # Journaled: a restart keeps it.
    await h.restart()
    mine = (await h.client.get(f"/api/v1/followups/{rated['case']}", headers=t["leader"])).json()
    assert mine["phone"] == PHONE

    good = await h.serve(t)
    r = await h.client.post("/api/v1/ratings", json={"ticket": good["ticket"], "level": 5, "key": h.keys[good["ticket"]]})
    r = await h.client.post("/api/v1/contacts", json={"ticket": good["ticket"], "key": h.keys[good["ticket"]],
                                                      "phone": PHONE, "consent": True})
    assert r.status_code == 409 and "只有差评需要回访" in r.json()["error"]["message"]


async def test_the_wechat_session_proves_the_holder_for_the_phone(make_hall, fake_wechat):
    from urllib.parse import urlsplit

    import httpx

    from tests.followup.conftest import PUBLIC, wechat_toml

    h = await make_hall(wechat_toml(fake_wechat, recheck=False))
    t = make_tokens(h.db)
    openid = fake_wechat.add_user()
    case = await h.serve(t, openid=openid)

    async def signed_in(who: str) -> httpx.AsyncClient:
        web = httpx.AsyncClient(transport=httpx.ASGITransport(app=h.daemon.app), base_url=PUBLIC,
                                headers={"Origin": PUBLIC})
        fake_wechat.next_openid = who
        r = await web.get("/m")
        async with httpx.AsyncClient() as phone:
            consent = await phone.get(r.headers["location"].split("#")[0])
        back = urlsplit(consent.headers["location"])
        assert (await web.get(f"{back.path}?{back.query}")).status_code in (302, 303)
        return web

    mine, stranger = await signed_in(openid), await signed_in(fake_wechat.add_user())
    try:
        r = await mine.post("/api/v1/ratings", json={"ticket": case["ticket"], "level": 2, "reasons": [2]})
        assert r.status_code == 201, r.text
        body = {"ticket": case["ticket"], "phone": PHONE, "consent": True}
        r = await stranger.post("/api/v1/contacts", json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_holder"
        r = await mine.post("/api/v1/contacts", json=body)
        assert r.status_code == 201, r.text
        (row,) = await h.rows("SELECT phone, channel FROM case_contacts")
        assert row == {"phone": PHONE, "channel": "wechat"}
    finally:
        await mine.aclose()
        await stranger.aclose()
