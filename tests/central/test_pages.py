"""The city's pages in headless Chromium (1920×1080, screenshots under test-artifacts/), over sample
halls shipped through the real ingest path: /city after a supervisor signs in (every hall with when
it last shipped), /results for the public (rankings, the window last two months running), and the
exports opened as a spreadsheet user would (openpyxl, LibreOffice headless)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import openpyxl
import pytest

from central import sample, tokens
from tests.browser import serving
from tests.support import launch_chromium

pytestmark = pytest.mark.browser
HALLS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}


def days() -> list[dt.date]:
    # The city's today (the pages' current month), not the machine's: from 16:00 UTC they differ.
    today = dt.datetime.now(sample.TZ).date()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    # Two days last month and today (rankings of two months), and a day long past (overdue follow-ups).
    return sorted({today - dt.timedelta(days=45), last_month_end - dt.timedelta(days=1), last_month_end, today})


@pytest.fixture
async def city(central_app):
    app, pool = central_app
    async with pool.acquire() as conn:
        hall_tokens = {h: (await tokens.create(conn, "hall", h))[0] for h in HALLS}
        await tokens.create(conn, "hall", "h5", name="临安区政务服务中心")  # registered, never shipped
        supervisor, _ = await tokens.create(conn, "supervisor")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://central") as c:
        for hall, n in HALLS.items():
            # Today's whole hall day, also the hours still to come: run before the halls open (08:30
            # in Shanghai, 00:30 UTC), the current month held no ratings and no window was last.
            bodies, _ = sample.ingest_bodies(hall, n, days(), 300, poor_window="7" if hall == "h3" else None,
                                             until=float("inf"))
            for body in bodies:
                r = await c.post("/api/v1/ingest", content=json.dumps(body, ensure_ascii=False).encode(),
                                 headers={"Authorization": f"Bearer {hall_tokens[hall]}",
                                          "Content-Type": "application/json"})
                assert r.status_code == 200, r.text
    await pool.execute("UPDATE halls SET last_shipped_at = now() - interval '3 hours' WHERE id = 'h4'")
    async with serving(app) as base:
        yield base, supervisor


async def test_city_page_shows_every_hall_and_its_freshness(city, artifacts):
    from playwright.async_api import async_playwright, expect

    base, supervisor = city
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        page = await browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        await page.goto(base + "/city")
        assert page.url.endswith("/city/login")
        await page.fill("input[name=token]", "qc_wrong")
        await page.click("button[type=submit]")
        await expect(page.locator("p.bad")).to_contain_text("令牌无效")
        await page.fill("input[name=token]", supervisor)
        await page.click("button[type=submit]")
        await page.wait_for_url(base + "/city")
        await expect(page.locator("h1")).to_contain_text("全市大厅监管")
        rows = page.locator("#halls tbody tr")
        await expect(rows).to_have_count(5)
        for name in ("市民服务中心", "高新区政务服务中心", "滨江区政务服务中心", "西湖区政务服务中心", "临安区政务服务中心"):
            await expect(page.locator("#halls")).to_contain_text(name)
        await expect(page.locator('tr[data-hall="h1"] td.fresh')).to_contain_text("秒前")
        await expect(page.locator('tr[data-hall="h4"] td.fresh')).to_contain_text("小时前")
        await expect(page.locator('tr[data-hall="h5"] td.fresh')).to_contain_text("从未上报")
        # Live: after the next refresh (every 5 s) the fresh hall is still counted in seconds.
        await page.wait_for_timeout(5500)
        await expect(page.locator('tr[data-hall="h1"] td.fresh')).to_contain_text("秒前")
        await expect(page.locator("body")).to_contain_text("差评整改（逾期优先）")
        await expect(page.locator("body")).to_contain_text("连续两月末位")
        await page.screenshot(path=str(artifacts / "central_city_1920.png"), full_page=False)
        # Signing out ends the session on the server: the same cookie no longer opens /city.
        cookie = next(c for c in await page.context.cookies() if c["name"] == "qc_city")
        await page.click("text=退出")
        await page.wait_for_url(base + "/city/login")
        async with httpx.AsyncClient(cookies={"qc_city": cookie["value"]}) as c:
            r = await c.get(base + "/city", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/city/login"
        await browser.close()


async def test_public_results_rank_halls_and_call_in_the_window_last_twice(city, artifacts):
    from playwright.async_api import async_playwright, expect

    base, supervisor = city
    async with httpx.AsyncClient() as c:
        ranking = (await c.get(base + "/api/v1/reports/ranking?by=window",
                               headers={"Authorization": f"Bearer {supervisor}"})).json()
        assert ranking["months"][0]["called_in"] == ["h3/7"]
        assert (await c.get(base + "/api/v1/reports/ranking")).status_code == 401
    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        page = await browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        await page.goto(base + "/results")
        await expect(page.locator("h1")).to_contain_text("好差评结果公开")
        await expect(page.locator("body")).to_contain_text("滨江区政务服务中心")
        await expect(page.locator("span.tag").first).to_contain_text("连续两月末位")
        await expect(page.locator("body")).to_contain_text("滨江区政务服务中心 7号窗口")
        text = await page.locator("body").inner_text()
        assert "qc_" not in text and "工作人员" not in text  # no tokens, no clerks' names in public
        await page.screenshot(path=str(artifacts / "central_results_1920.png"), full_page=False)
        await browser.close()


async def test_cross_site_sign_in_is_refused(city):
    base, supervisor = city
    async with httpx.AsyncClient() as c:
        r = await c.post(base + "/city/login", data={"token": supervisor}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "qc_city" not in r.headers.get("set-cookie", "")


async def test_exports_open_as_spreadsheets(city, tmp_path):
    base, supervisor = city
    h = {"Authorization": f"Bearer {supervisor}"}
    async with httpx.AsyncClient(timeout=30) as c:
        await _exports(c, base, h, tmp_path)


async def _exports(c: httpx.AsyncClient, base: str, h: dict, tmp_path: Path) -> None:
    start, end = days()[0].isoformat(), days()[-1].isoformat()
    r = await c.get(f"{base}/api/v1/reports/reviews?from={start}&to={end}&group_by=hall&format=csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["大厅编号", "大厅", "分组", "名称"]
    assert {row[0] for row in rows[1:]} == set(HALLS)
    json_rows = (await c.get(f"{base}/api/v1/reports/reviews?from={start}&to={end}&group_by=hall", headers=h)).json()["rows"]
    served = rows[0].index("办件数")
    assert [int(row[served]) for row in rows[1:]] == [r["served"] for r in json_rows]

    r = await c.get(f"{base}/api/v1/reports/queues?from={start}&to={end}&group_by=window&format=xlsx", headers=h)
    assert r.status_code == 200
    path = tmp_path / "queues.xlsx"
    path.write_bytes(r.content)
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    assert header[:3] == ["大厅编号", "大厅", "分组"] and "暂停(分钟)" in header and "留号" in header
    assert ws.cell(2, 2).value != "大厅" and ws.max_row == 1 + 4 * 10  # one header row; 4 halls × 10 windows
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (make test installs it)")
    profile = Path(tempfile.mkdtemp(prefix="lo-"))
    out = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                          "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(tmp_path), str(path)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(profile)})
    shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr
    converted = list(csv.reader(io.StringIO((tmp_path / "queues.csv").read_text(encoding="utf-8"))))
    assert converted[0][1] == "大厅" and "滨江区政务服务中心" in {row[1] for row in converted[1:]}

    r = await c.get(f"{base}/api/v1/followups?format=csv", headers=h)
    assert r.status_code == 200
    followups = (await c.get(f"{base}/api/v1/followups", headers=h)).json()
    assert followups["overdue"] > 0 and followups["rows"][0]["overdue"] is True
    firsts = [row["overdue"] for row in followups["rows"]]
    assert firsts == sorted(firsts, reverse=True)  # overdue ones first
