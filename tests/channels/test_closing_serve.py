"""当日业务不留号 against a real `queued serve` on the real clock, its closing times configured a
minute or two ahead: a ticket still waiting at `closes` is called and served (延时), the queues
report counts extended minutes and no left_over; at `hard_close` the daemon's own timer closes out
what still waits, and the report counts it as left_over. Takes up to three minutes of waiting."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support import serve_hall, token

pytestmark = pytest.mark.slow
TZ = ZoneInfo("Asia/Shanghai")


def _sleep_until(ts: float) -> None:
    while (left := ts - time.time()) > 0:
        time.sleep(min(left, 1.0))


def test_serves_past_closing_and_closes_out_at_hard_close(tmp_path):
    now = datetime.now(TZ)
    closes = (now + timedelta(minutes=1 if now.second < 40 else 2)).replace(second=0, microsecond=0)
    hard = closes + timedelta(minutes=1)
    if hard.date() != now.date():
        pytest.skip("too close to midnight for a same-day closing")
    times = (f'stop_issuing = "{closes:%H:%M}"\ncloses = "{closes:%H:%M}"\nhard_close = "{hard:%H:%M}"')
    proc, base, db = serve_hall(tmp_path, hall_extra=times)
    try:
        kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
        clerk = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
        sup = {"Authorization": f"Bearer {token(db, 'supervisor')}"}
        with httpx.Client(base_url=base, timeout=10) as api:
            tickets = [api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk).json() for _ in range(4)]
            assert [t["number"] for t in tickets] == ["A001", "A002", "A003", "A004"]
            assert api.post("/api/v1/windows/1/call-next", headers=clerk).json()["ticket"]["number"] == "A001"
            api.post("/api/v1/windows/1/start", headers=clerk)

            _sleep_until(closes.timestamp() + 1)  # past closing: nobody is sent home
            hall = api.get("/api/v1/hall").json()
            assert (hall["phase"]["phase"], hall["phase"]["text"]) == ("extended", "延时服务中")
            r = api.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
            assert r.status_code == 409 and "取号已截止" in r.json()["error"]["message"]
            assert api.get(f"/api/v1/tickets/{tickets[1]['id']}").json()["status"] == "waiting"
            for number in ("A002", "A003"):  # waiting at closes, served after it
                r = api.post("/api/v1/windows/1/call-next", headers=clerk)
                assert r.status_code == 200 and r.json()["ticket"]["number"] == number
                api.post("/api/v1/windows/1/start", headers=clerk)
                time.sleep(3)
            assert api.post("/api/v1/windows/1/finish", headers=clerk).status_code == 200
            day = closes.date().isoformat()
            q = f"from={day}&to={day}"
            w1 = next(x for x in api.get(f"/api/v1/reports/queues?{q}&group_by=window", headers=sup).json()["rows"]
                      if x["key"] == "1")
            assert w1["served"] == 3 and w1["extended_minutes"] > 0 and w1["left_over"] == 0
            by_day = api.get(f"/api/v1/reports/queues?{q}&group_by=day", headers=sup).json()["rows"][0]
            assert by_day["left_over"] == 0 and by_day["extended_minutes"] == w1["extended_minutes"]

            _sleep_until(hard.timestamp() + 2)  # the daemon's timer closes out A004 (留号)
            got = api.get(f"/api/v1/tickets/{tickets[3]['id']}").json()
            assert (got["status"], got["cancel_reason"]) == ("cancelled", "day_closed")
            assert api.get("/api/v1/hall").json()["phase"]["text"] == "今日服务已结束"
            by_day = api.get(f"/api/v1/reports/queues?{q}&group_by=day", headers=sup).json()["rows"][0]
            assert (by_day["left_over"], by_day["served"], by_day["issued"]) == (1, 3, 4)
            assert by_day["extended_minutes"] == w1["extended_minutes"]
    finally:
        proc.stop()
