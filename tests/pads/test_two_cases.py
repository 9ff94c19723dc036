"""一事一评 with two 办件 on one ticket: the 一窗受理 system binds both at the window, 办结 prompts
them one after the other, the first is rated on the pad and the second by the ticket's QR code;
each counts once. Once in process over the pty, once on a real `queued serve` with the holder's
page (/m/t/{id}#k=KEY) in headless Chromium at 390×844, which names the 办件 it asks about."""

from __future__ import annotations

import pytest

from firmware_bridge.frames import KeyCode
from tests.pads.support import wait_until
from tests.support import token

FIRST = {"project_no": "330106202612010101", "item_code": "330100-0001", "item_name": "企业设立登记",
         "applicant": {"name": "王小明", "phone": "13812345678"}}
SECOND = {"project_no": "330106202612010102", "item_code": "330100-0002", "item_name": "食品经营许可证核发"}


async def serve_two(post, pad) -> tuple[dict, list[int]]:
    """A001 called from the pad, two 办件 bound by the integration, FINISH on the pad."""
    r = await post("/api/v1/tickets", {"business": "A"}, role="kiosk")
    assert r.status_code == 201, r.text
    ticket = r.json()
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001", what="A001 called")
    cases = []
    for body in (FIRST, SECOND):
        r = await post("/api/v1/windows/4/cases", body, role="integration")
        assert r.status_code == 201, r.text
        cases.append(r.json()["case"])
    pad.press(KeyCode.FINISH)
    await wait_until(lambda: pad.prompt is not None, what="the first prompt")
    return ticket, cases


async def test_two_cases_prompted_one_after_the_other_rated_on_the_pad_and_by_qr(signed_in):
    hall = signed_in
    pad = hall.pad4
    db = hall.daemon.config.database
    hall.headers["integration"] = {"Authorization": f"Bearer {token(db, 'integration')}"}
    ticket, (first, second) = await serve_two(hall.post, pad)
    assert (pad.prompt.case, pad.prompt.ticket) == (first, "A001")  # one CASE per prompt, the first first
    pad.rate(5)
    await wait_until(lambda: pad.prompt is not None and pad.prompt.case == second, what="the second prompt follows")
    # The second RATE_REQUEST may reach the pad before the POLL that acknowledges the RATING (a
    # waiting command goes before the next plain POLL): the ACK follows.
    await wait_until(lambda: pad.pending == 0, what="the rating acknowledged")
    r = await hall.client.post("/api/v1/ratings", json={"ticket": ticket["id"], "key": ticket["rating_key"],
                                                        "case": second, "level": 2, "reasons": [1]})
    assert r.status_code == 201, r.text
    await wait_until(lambda: pad.prompt is None, what="RATE_CANCEL of the second prompt")
    r = await hall.get(f"/api/v1/tickets/{ticket['id']}/cases", role="supervisor")
    got = [(c["case"], c["project_no"], c["state"], c["level"], c["channel"]) for c in r.json()["cases"]]
    assert got == [(first, FIRST["project_no"], "rated", 5, "pad"), (second, SECOND["project_no"], "rated", 2, "qr")]
    r = await hall.client.post("/api/v1/ratings", json={"ticket": ticket["id"], "key": ticket["rating_key"],
                                                        "level": 4})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_rated")
    row = next(x for x in (await hall.get("/api/v1/reports/reviews?group_by=window", role="supervisor")).json()["rows"]
               if x["key"] == "4")
    assert (row["served"], row["rated"], row["very_satisfied"], row["dissatisfied"]) == (2, 2, 1, 1)
    rows = (await hall.get("/api/v1/reports/national", role="supervisor")).json()["rows"]
    assert sorted((x["case_no"], x["pf"]) for x in rows) == [(FIRST["project_no"], 4), (SECOND["project_no"], 3)]


@pytest.mark.browser
async def test_the_holders_page_names_each_case_and_rates_the_one_the_pad_did_not(live, artifacts):
    from playwright.async_api import async_playwright, expect

    from tests.pages import check_page_async
    from tests.support import launch_chromium

    hall, _emulator, pad = live
    await hall.start()
    r = await hall.post("/api/v1/windows/4/sign-in", {"clerk": "1001", "pin": "1001"})
    assert r.status_code == 200, r.text
    ticket, (first, second) = await serve_two(hall.post, pad)
    link = f"{hall.base}/m/t/{ticket['id']}#k={ticket['rating_key']}"  # what the ticket's QR code holds
    async with async_playwright() as pw:
        pw.selectors.set_test_id_attribute("data-testid")
        browser = await launch_chromium(pw)
        try:
            ctx = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                            is_mobile=True, has_touch=True, locale="zh-CN")
            page = await ctx.new_page()
            page.set_default_timeout(10000)
            await page.goto(link)
            rating = page.get_by_test_id("rating")
            await expect(rating.get_by_test_id("rating-title")).to_have_text("请评价第 1 件（共 2 件）：企业设立登记")
            await expect(rating.get_by_test_id("case")).to_have_count(2)
            await check_page_async(page, artifacts, "mobile-two-cases-first", citizen=True)

            pad.rate(4)  # the citizen rates the first at the window's pad; the page moves on by itself
            await wait_until(lambda: pad.prompt is not None and pad.prompt.case == second, what="second prompt")
            title = rating.get_by_test_id("rating-title")
            await expect(title).to_have_text("请评价第 2 件（共 2 件）：食品经营许可证核发")
            await expect(rating.locator(f'[data-case="{first}"]')).to_contain_text("已评价")
            await expect(rating.locator(f'[data-case="{second}"]')).to_contain_text("正在评价")
            await expect(rating.get_by_text("办件编号 330106202612010102")).to_be_visible()
            await check_page_async(page, artifacts, "mobile-two-cases-second", citizen=True)
            await rating.get_by_test_id("rate-5").click()
            await rating.get_by_test_id("rate-submit").click()
            await expect(rating.get_by_test_id("rating-done")).to_have_text("感谢您的评价！本次 2 件办件均已评价。")
            await check_page_async(page, artifacts, "mobile-two-cases-done", citizen=True)
        finally:
            await browser.close()
    await wait_until(lambda: pad.prompt is None, what="RATE_CANCEL on the pad")
    assert hall.rows("SELECT case_id, level, channel FROM ratings ORDER BY case_id") == [
        (first, 4, "pad"), (second, 5, "qr")]


async def test_a_case_timed_out_on_the_pad_is_followed_by_the_next_cases_prompt(signed_in):
    hall = signed_in
    pad = hall.pad4
    hall.headers["integration"] = {"Authorization": f"Bearer {token(hall.daemon.config.database, 'integration')}"}
    ticket, (first, second) = await serve_two(hall.post, pad)
    pad.time_out_rating()  # the citizen walked away from the first
    await wait_until(lambda: pad.prompt is not None and pad.prompt.case == second, what="the second prompt follows")
    pad.rate(3)
    await wait_until(lambda: pad.pending == 0)
    r = await hall.get(f"/api/v1/tickets/{ticket['id']}/cases", role="supervisor")
    assert [(c["case"], c["state"], c["level"]) for c in r.json()["cases"]] == [(first, "unrated", None),
                                                                               (second, "rated", 3)]
    # The first may still be rated later by the QR code (within rating_window_days): it replaces the time-out.
    r = await hall.client.post("/api/v1/ratings", json={"ticket": ticket["id"], "key": ticket["rating_key"],
                                                        "level": 5})
    assert (r.status_code, r.json()["case"], r.json()["replaced"]) == (201, first, "unrated")
