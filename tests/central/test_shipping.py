"""Two real halls (`queued serve`) ship to a real central service (`queued central serve`) over a real
PostgreSQL: the central service is stopped for a while and restarted, one hall is killed with
SIGKILL in the middle of shipping its backlog and restarted; afterwards every committed event is
in the central store exactly once and in order per hall, and the city reports equal the halls' own.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from queued.central_link.redact import redact
from tests.support import ServeProcess, free_port, hall_toml, token

pytestmark = pytest.mark.slow


class Hall:
    def __init__(self, tmp: Path, hall_id: str, central_url: str, central_token: str, batch_size: int):
        self.id = hall_id
        self.dir = tmp / hall_id
        self.dir.mkdir()
        self.db = str(self.dir / "hall.sqlite3")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (self.dir / "central.token").write_text(central_token + "\n", encoding="utf-8")
        extra = (f'\n[central]\nurl = "{central_url}"\ntoken_file = "{self.dir / "central.token"}"\n'
                 f"batch_size = {batch_size}\nretry_max_s = 1\n")
        text = hall_toml(self.db, http_port=self.port, extra=extra)
        text = text.replace('id = "main"', f'id = "{hall_id}"', 1).replace("rating_timeout_s = 30", "rating_timeout_s = 255")
        self.config = self.dir / "hall.toml"
        self.config.write_text(text, encoding="utf-8")
        self.proc = ServeProcess(self.config, self.dir)
        self.rng = random.Random(hall_id)
        self.headers: dict[str, dict] = {}
        self.keys: dict[str, str] = {}

    def start(self) -> Hall:
        self.proc.start(self.base)
        if not self.headers:
            self.headers = {name: {"Authorization": f"Bearer {token(self.db, *args)}"} for name, args in {
                "kiosk": ("kiosk",), "supervisor": ("supervisor",), "w1": ("clerk", "1", "1001"),
                "w2": ("clerk", "2", "1002")}.items()}
        return self

    def drive(self, tickets: int) -> None:
        """A busy stretch: tickets issued, called, served or skipped, most served ones rated."""
        with httpx.Client(base_url=self.base, timeout=10) as c:
            for i in range(tickets):
                r = c.post("/api/v1/tickets", json={"business": self.rng.choice("AB"), "channel": "kiosk"},
                           headers=self.headers["kiosk"])
                assert r.status_code == 201, r.text
                if "rating_key" in r.json():
                    self.keys[r.json()["id"]] = r.json()["rating_key"]
                w = self.rng.choice(("w1", "w2"))
                r = c.post(f"/api/v1/windows/{w[1]}/call-next", headers=self.headers[w])
                assert r.status_code == 200, r.text
                called = r.json()["ticket"]
                if called is None:
                    continue
                if self.rng.random() < 0.1:
                    assert c.post(f"/api/v1/windows/{w[1]}/skip", headers=self.headers[w]).status_code == 200
                    continue
                assert c.post(f"/api/v1/windows/{w[1]}/finish", headers=self.headers[w]).status_code == 200
                if i % 9 == 0:
                    c.post(f"/api/v1/windows/{w[1]}/pause", headers=self.headers[w])
                    c.post(f"/api/v1/windows/{w[1]}/resume", headers=self.headers[w])
                if self.rng.random() < 0.75:
                    level = self.rng.choice((5, 5, 5, 4, 4, 3, 2, 1))
                    rating = {"ticket": called["id"], "level": level,
                              "reasons": [self.rng.randint(1, 6)] if level <= 2 and self.rng.random() < 0.7 else []}
                    if called["id"] in self.keys:  # 1.1: the holder's key proves the holder
                        rating["key"] = self.keys[called["id"]]
                    r = c.post("/api/v1/ratings", json=rating)
                    assert r.status_code == 201, r.text

    def central_status(self) -> dict:
        return httpx.get(self.base + "/healthz", timeout=5).json()["details"]["central"]

    def events(self) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return [(s, k, json.loads(d)) for s, k, d in conn.execute("SELECT seq, kind, data FROM events ORDER BY seq")]
        finally:
            conn.close()


def concurrently(*jobs) -> None:
    errors: list[BaseException] = []

    def run(fn, arg):
        try:
            fn(arg)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def wait_for(predicate, timeout: float, what: str, show=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f"; last seen {show()}" if show else ""))


async def central_events(database: str, hall: str) -> list[tuple]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch("SELECT seq, kind, data FROM events WHERE hall = $1 ORDER BY seq", hall)
        return [(r["seq"], r["kind"], json.loads(r["data"])) for r in rows]
    finally:
        await conn.close()


async def rollup_is_rebuilt(database: str) -> None:
    from tests.central.test_queue_rollup import assert_rollup_is_rebuilt
    conn = await asyncpg.connect(database)
    try:
        await assert_rollup_is_rebuilt(conn)
    finally:
        await conn.close()


def test_two_halls_ship_through_outages_exactly_once_and_city_reports_add_up(tmp_path, central_process,
                                                                                central_url):
    central = central_process().start()
    sup = {"Authorization": f"Bearer {central.token('--role', 'supervisor')}"}
    halls = [Hall(tmp_path, "gaoxin", central.url, central.token("--hall", "gaoxin"), batch_size=10),
             Hall(tmp_path, "binjiang", central.url, central.token("--hall", "binjiang"), batch_size=50)]
    for h in halls:
        h.start()
    try:
        # 1. Both halls busy at once, the central service up.
        concurrently(*[(h.drive, 40) for h in halls])
        # 2. The central service goes away; the halls keep working and fall behind.
        central.stop()
        concurrently(*[(h.drive, 60) for h in halls])
        for h in halls:
            st = wait_for(lambda h=h: (s := h.central_status())["state"] in ("unreachable", "unavailable") and s, 30,
                          "the shipper to notice", h.central_status)
            assert st["events_behind"] > 0 and st["seconds_behind"] > 0
        before = halls[0].central_status()["cursor"]
        # 3. Back again; the first hall is killed -9 while it works through its backlog, then restarted.
        central.start()
        st = wait_for(lambda: (s := halls[0].central_status())["cursor"] > before and s["events_behind"] > 0 and s,
                      60, "the backlog to be half shipped", halls[0].central_status)
        halls[0].proc.kill(signal.SIGKILL)
        assert st["events_behind"] > 0
        halls[0].proc.start(halls[0].base)
        concurrently(*[(h.drive, 20) for h in halls])
        # 4. Everything arrives: each hall caught up.
        for h in halls:
            wait_for(lambda h=h: h.central_status()["events_behind"] == 0 and h.central_status()["state"] == "ok",
                     120, f"{h.id} to catch up", h.central_status)
        listed = {x["id"]: x for x in httpx.get(central.url + "/api/v1/halls", headers=sup).json()["halls"]}
        import asyncio
        for h in halls:
            local = h.events()
            assert local, "the hall journaled events"
            shipped = asyncio.run(central_events(central_url, h.id))
            assert [s for s, _, _ in shipped] == [s for s, _, _ in local]  # once each, in order
            # As they were committed, but for what never leaves the hall (the holder's rating key and
            # openid, the applicant's name, ID and phone, the 二次评价 link's token).
            assert shipped == [(s, k, json.loads(redact(k, json.dumps(d)))) for s, k, d in local]
            issued = [d for _, k, d in local if k == "ticket_issued"]
            assert issued and all(d["rating_key"] for d in issued)
            assert all(d["rating_key"] is None and d["openid"] is None
                       for _, k, d in shipped if k == "ticket_issued")
            assert listed[h.id]["last_seq"] == local[-1][0]
            assert listed[h.id]["name"] == "高新区政务服务中心"
        metrics = httpx.get(central.url + "/metrics").text
        assert "queued_central_events_stored_total" in metrics
        for h in halls:  # the hall's own figures say it is caught up
            text = httpx.get(h.base + "/metrics").text
            assert "queued_central_events_behind 0.0" in text and "queued_central_up 1.0" in text

        # 5. City reports: per hall equal to the hall's own; across halls the sum.
        hall_day = sqlite3.connect(halls[0].db).execute("SELECT max(day) FROM events").fetchone()[0]
        q = f"from={hall_day}&to={hall_day}"
        for report in ("reviews", "queues"):
            per_day: dict[str, dict] = {}
            for h in halls:
                for group in ("day", "window", "clerk", "business"):
                    own = httpx.get(f"{h.base}/api/v1/reports/{report}?{q}&group_by={group}",
                                    headers=h.headers["supervisor"]).json()["rows"]
                    city = httpx.get(f"{central.url}/api/v1/reports/{report}?{q}&group_by={group}&hall={h.id}",
                                     headers=sup).json()["rows"]
                    assert own, (report, group)
                    # The hall's queue rows also carry figures only the hall keeps (挂起, saturation).
                    shared = [k for k in own[0] if k in city[0]]
                    assert [{k: r[k] for k in shared} for r in city] == [{k: r[k] for k in shared} for r in own], \
                        (report, group, h.id)
                    assert not {"key", "served"} - set(shared) and (report == "reviews" or "left_over" in shared)
                    assert all(r["hall"] == h.id for r in city)
                own_days = httpx.get(f"{h.base}/api/v1/reports/{report}?{q}&group_by=day",
                                     headers=h.headers["supervisor"]).json()["rows"]
                by_hall = httpx.get(f"{central.url}/api/v1/reports/{report}?{q}&group_by=hall&hall={h.id}",
                                    headers=sup).json()["rows"]
                counts = [k for k, v in own_days[0].items() if isinstance(v, int) and k != "key" and k in by_hall[0]]
                assert by_hall[0]["key"] == h.id
                assert {k: by_hall[0][k] for k in counts} == {k: sum(r[k] for r in own_days) for k in counts}
                if len(own_days) == 1:  # one day: rates, averages and the p90 (not sums) are the hall's too
                    rest = {k: v for k, v in own_days[0].items() if k in ("avg_wait_s", "p90_wait_s", "avg_service_s",
                                                                          "skip_rate", "good_rate", "bad_rate")}
                    assert len(rest) >= 2 and {k: by_hall[0][k] for k in rest} == rest, (report, h.id)
                for r in own_days:
                    acc = per_day.setdefault(r["key"], dict.fromkeys(counts, 0))
                    for k in counts:
                        acc[k] += r[k]
            city_days = httpx.get(f"{central.url}/api/v1/reports/{report}?{q}&group_by=day", headers=sup).json()["rows"]
            assert {r["key"]: {k: r[k] for k in per_day[r["key"]]} for r in city_days} == per_day
            assert sum(v["served"] for v in per_day.values()) > 100
        # 6. The queue rollup kept batch by batch (through the outage, the resends and the kill -9) is
        # the one rebuilt from the tickets themselves.
        asyncio.run(rollup_is_rebuilt(central_url))
    finally:
        for h in halls:
            h.proc.stop()
