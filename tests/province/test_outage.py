"""A day-long platform outage in simulated time: ratings keep coming every half hour, every record
retries on its own backoff (30 s doubling to 1 h, with jitter), the supervisor is alerted once a
rating is older than the retry cap, and when the platform is back every rating lands once."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.pads.support import metric
from tests.province.support import wait_until

STEP_S, DAY_S = 1800, 86400


async def caught_up(h, clock) -> None:
    """The sender has tried everything due at the current simulated time."""
    h.province.sender.wake()

    async def nothing_due():
        row = await h.journal.fetchone("SELECT COUNT(*) AS n FROM province_outbox WHERE next_at <= ?", (clock(),))
        return row["n"] == 0 and h.province.sender.in_flight is None
    await wait_until(nothing_due, 30, "the sender caught up")


@pytest.mark.parametrize("profile", ["zhejiang", "shandong"])
async def test_a_day_long_outage(make_hall, fake, clock, profile):
    h = await make_hall(fake, profile, retry_base_s=30, retry_max_s=3600, timeout_s=1.0)
    start = clock()
    fake.down(start, start + DAY_S + STEP_S)  # a little over a day
    cases = []
    alert_seen = False
    for i in range(DAY_S // STEP_S):
        c = await h.serve(str(1 + i % 2))
        await h.rate(c, 5 if i % 4 else 2, reasons=0 if i % 4 else 1, channel=("pad", "qr")[i // 2 % 2])
        cases.append(c)
        clock.advance(STEP_S)
        await caught_up(h, clock)
        if i == 4:  # two hours in: the first ratings are older than the retry cap
            alerts = await h.province.reconcile(days=2)
            assert alerts and h.province.alert
            text = (await h.api.get("/metrics")).text
            assert metric(text, "queued_province_gap_alert", profile=profile) == 1
            assert metric(text, "queued_province_oldest_pending_seconds", profile=profile) > 3600
            page = await h.api.get("/api/v1/province/reconciliation", headers=h.h["supervisor"])
            assert page.json()["alert"] is True
            alert_seen = True
    assert alert_seen and fake.stored("zhejiang") == [] and fake.stored("rating") == []
    tries = await h.journal.fetchall("SELECT outbox_id, COUNT(*) AS n FROM province_attempts GROUP BY outbox_id")
    per_record = [t["n"] for t in tries]
    # ~7 doublings to the cap, then about one try an hour: never a tight loop, never given up
    assert max(per_record) <= 7 + 2 * 25 and min(per_record) >= 1
    assert fake.outcomes()["down"] == sum(per_record)

    clock.advance(DAY_S + STEP_S - (clock() - start) + 1)  # the platform is back
    clock.advance(3600)  # every record's next try has come
    await h.settled(timeout=120)
    stored = fake.stored("zhejiang" if profile == "zhejiang" else "rating")
    prefix = "37" if profile == "shandong" else ""
    assert sorted(r["projectNo"] for r in stored) == sorted(prefix + c["project_no"] for c in cases)  # once each
    rows = await h.outbox(step="rating")
    assert {r["state"] for r in rows} == {"accepted"}
    recon = await h.province.reconcile(days=3)
    assert recon == [] and not h.province.alert
    page = (await h.api.get("/api/v1/province/reconciliation",
                            headers=h.h["supervisor"])).json()["rows"]
    ours = Counter()
    for w in page:
        assert w["stored"] == w["delivered"] and w["pending"] == w["rejected"] == w["missing"] == 0
        ours[(w["day"], w["window"])] = w["delivered"]
    theirs = Counter()
    for r in stored:
        row = next(x for x in rows if prefix + x["project_no"] == r["projectNo"])
        theirs[(row["day"], row["window"])] += 1
    assert ours == theirs  # our receipts and the platform agree per hall day × window
