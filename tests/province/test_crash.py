"""A real `queued serve` pushing to the fake platform while ratings keep coming: every fault of
province.md §4 in turn, the daemon killed with -9 while its request hangs at the platform, then
restarted. At the end every rating is on the platform exactly once, none fabricated, receipts and
reconciliation agree, and the hall never waited for the platform (ticket replies and a pad's ACK
came back while the platform held the daemon's request)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
import tty
from collections import Counter

import httpx
import pytest

from firmware_bridge.emulator import PadBusEmulator, PadState
from tests.pads.support import PAD_WINDOW
from tests.province.fake_platform import FakePlatform
from tests.province.support import applicant, project_no, wait_until
from tests.support import ServeProcess, free_port, hall_toml, token


class LiveHall:
    def __init__(self, tmp_path, profile: str, fake: FakePlatform, pty_path: str):
        self.profile, self.fake = profile, fake
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = str(tmp_path / "hall.sqlite3")
        extra = fake.province_toml(profile, tmp_path, timeout_s=2.5, retry_base_s=0.1, retry_max_s=1.0)
        conf = tmp_path / "hall.toml"
        conf.write_text(hall_toml(self.db, http_port=self.port, extra=extra + PAD_WINDOW.format(port=pty_path)),
                        encoding="utf-8")
        self.proc = ServeProcess(conf, tmp_path)
        self.h: dict[str, dict] = {}
        self.cases: list[dict] = []
        self.client = httpx.AsyncClient(base_url=self.base, timeout=10)

    async def start(self) -> None:
        await asyncio.to_thread(self.proc.start, self.base, 30)
        if not self.h:
            for role, args in (("kiosk", ()), ("admin", ()), ("supervisor", ()), ("clerk1", ("1", "1001")),
                               ("clerk2", ("2", "1002")), ("clerk4", ("4", "1001")),
                               ("integration", ())):
                self.h[role] = {"Authorization": f"Bearer {token(self.db, role.rstrip('1234'), *args)}"}

    async def post(self, path, body=None, role="admin") -> httpx.Response:
        return await self.client.post(path, json=body or {}, headers=self.h[role])

    async def serve(self, window: str) -> dict:
        t0 = time.monotonic()
        r = await self.post("/api/v1/tickets", {"business": "A" if window != "2" else "B"}, "kiosk")
        assert r.status_code == 201, r.text
        issue_s = time.monotonic() - t0
        ticket = r.json()
        r = await self.post(f"/api/v1/windows/{window}/call-next", role=f"clerk{window}")
        assert r.status_code == 200, r.text
        pno = project_no(window)
        a = applicant(len(self.cases))
        body = {"project_no": pno, "item_code": "330201001000123456789012345678901", "item_name": "企业设立登记",
                "dept_code": "11330200MB1234567X", "applicant": a}
        bound = await self.post(f"/api/v1/windows/{window}/cases", body, role="integration")
        r = await self.post(f"/api/v1/windows/{window}/finish", role=f"clerk{window}")
        assert r.status_code == 200, r.text
        assert bound.status_code == 201, bound.text
        case = {"ticket": ticket, "project_no": pno, "window": window, "issue_s": issue_s}
        self.cases.append(case)
        return case

    async def rate_qr(self, case: dict, level: int = 5) -> None:
        body = {"ticket": case["ticket"]["id"], "level": level}
        if "rating_key" in case["ticket"]:
            body["key"] = case["ticket"]["rating_key"]
        else:
            body["channel"] = "qr"
        if level <= 2:
            body["reasons"] = [1]
        r = await self.client.post("/api/v1/ratings", json=body)
        assert r.status_code == 201, r.text
        case["level"] = level

    def rows(self, sql: str, params=()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.db, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    async def close(self) -> None:
        await self.client.aclose()
        await asyncio.to_thread(self.proc.stop)


@pytest.mark.parametrize("profile", ["zhejiang", "shandong"])
async def test_faults_and_kill_9_mid_request_lose_and_double_nothing(tmp_path, profile):
    fake = FakePlatform(hold_s=4.0, slow_s=0.3).start()
    master, slave = os.openpty()
    tty.setraw(slave)
    pad = PadState(4)
    emulator = PadBusEmulator(master, [pad])
    await emulator.start()
    hall = LiveHall(tmp_path, profile, fake, os.ttyname(slave))
    rating_ep = fake.ZJ if profile == "zhejiang" else fake.SD_RATING
    eps = (fake.ZJ,) if profile == "zhejiang" else (fake.SD_SERVICE, fake.SD_RATING)
    try:
        await hall.start()
        r = await hall.post("/api/v1/windows/4/sign-in", {"clerk": "1001", "pin": "1001"})
        assert r.status_code == 200, r.text

        async def pad_rating(level: int = 4) -> float:
            """Serve at window 4 and rate on the pad: the seconds until the pad had its ACK."""
            case = await hall.serve("4")
            await wait_until(lambda: pad.prompt is not None, 15, "RATE_REQUEST on the pad")
            t0 = time.monotonic()
            pad.rate(level)
            await wait_until(lambda: pad.pending == 0, 15, "the pad's rating acknowledged")
            case["level"] = level
            return time.monotonic() - t0

        faults = ["500", "502", "gateway", "reset", "slow", "drop", "reject:taskCode 不在事项库中"]
        for i, fault in enumerate(faults):
            fake.script(eps[i % len(eps)], fault)
            await hall.rate_qr(await hall.serve("1"), 5 if i % 3 else 2)
            await hall.rate_qr(await hall.serve("2"), 4)
        await pad_rating(5)
        # down for a period, ratings still coming
        fake.down(fake.clock(), fake.clock() + 1.5)
        for _ in range(3):
            await hall.rate_qr(await hall.serve("1"), 3)
        await wait_until(lambda: fake.outcomes()["down"] >= 1, 20, "requests while the platform is down")

        # The platform hangs on a request: the hall keeps answering at once.
        fake.script(rating_ep, "timeout")
        await hall.rate_qr(await hall.serve("2"), 5)
        await wait_until(lambda: fake.holding == 1, 20, "the platform holding the daemon's request")
        hung = time.monotonic()
        during = [await hall.serve("1") for _ in range(3)]
        for c in during:
            await hall.rate_qr(c, 4)
        ack_s = await pad_rating(3)
        assert fake.holding == 1 and time.monotonic() - hung < 2.5  # all done inside one hung request
        assert max(c["issue_s"] for c in during) < 2.5 and ack_s < 2.5

        # kill -9 while the daemon's request hangs at the platform (which then stores it), restart
        await wait_until(lambda: fake.holding == 0, 20)
        fake.script(rating_ep, "timeout")
        await hall.rate_qr(await hall.serve("1"), 1)
        await wait_until(lambda: fake.holding == 1, 20, "the daemon's request held again")
        hall.proc.kill(signal.SIGKILL)
        await hall.start()
        for _ in range(2):
            await hall.rate_qr(await hall.serve("2"), 5)

        # the rejection is fixed (the script is spent) and re-pushed by a supervisor
        await wait_until(lambda: hall.rows("SELECT 1 FROM province_outbox WHERE state='rejected'"), 30)
        [rejected] = hall.rows("SELECT rating_id, message FROM province_outbox WHERE state='rejected'")
        assert rejected["message"] == "taskCode 不在事项库中"
        r = await hall.post(f"/api/v1/province/records/{rejected['rating_id']}/repush", role="supervisor")
        assert r.status_code == 200, r.text

        await wait_until(lambda: not hall.rows("SELECT 1 FROM province_outbox WHERE state NOT IN"
                                               " ('accepted', 'duplicate')"), 60, "every record delivered")
    finally:
        await hall.close()
        await emulator.stop()
        for fd in (master, slave):
            os.close(fd)
        fake.stop()

    prefix = "37" if profile == "shandong" else ""
    stored = fake.stored("zhejiang" if profile == "zhejiang" else "rating")
    ours = sorted(prefix + c["project_no"] for c in hall.cases)
    assert sorted(r["projectNo"] for r in stored) == ours  # each rating once; nothing fabricated
    level = {prefix + c["project_no"]: str(c["level"]) for c in hall.cases}
    assert all(r["satisfaction"] == level[r["projectNo"]] for r in stored)
    assert Counter(r["pf"] for r in stored) == {"3": len(hall.cases) - 2, "4": 2}  # QR and the pad
    ratings = hall.rows("SELECT COUNT(*) AS n FROM ratings WHERE level IS NOT NULL")[0]["n"]
    assert ratings == len(hall.cases) == len(stored)
    receipts = hall.rows("SELECT state, attempts, maybe_delivered FROM province_outbox WHERE step='rating'")
    assert len(receipts) == len(stored) and {r["state"] for r in receipts} <= {"accepted", "duplicate"}
    assert "duplicate" in {r["state"] for r in receipts}  # drop and the killed request came back as duplicates
    assert sum(r["attempts"] for r in receipts) > len(receipts)
    recon = (await _reconciliation(hall)).values()
    assert sum(w["stored"] for w in recon) == sum(w["delivered"] for w in recon) == len(stored)
    assert all(w["pending"] == w["rejected"] == w["missing"] == w["unpushable"] == 0 for w in recon)
    per_window = Counter()
    for r in stored:
        per_window[fake.window_of(r)] += 1
    assert per_window == {w["window"]: w["delivered"] for w in recon}
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "330201199001" not in log and "1380013" not in log  # no ID number or phone in the log (D12)


async def _reconciliation(hall) -> dict:
    await hall.start()  # the daemon is up again for the API (it was stopped in `finally`)
    hall.client = httpx.AsyncClient(base_url=hall.base, timeout=10)
    try:
        r = await hall.client.get("/api/v1/province/reconciliation", headers=hall.h["supervisor"])
        assert r.status_code == 200, r.text
        return {w["window"]: w for w in r.json()["rows"]}
    finally:
        await hall.close()
