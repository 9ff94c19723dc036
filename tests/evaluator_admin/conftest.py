"""A hall with window leaders, a 5-working-day 差评 deadline and holidays, on a fixed Friday."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support import InProcessHall, hall_toml, token

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter"]
TZ = ZoneInfo("Asia/Shanghai")
HALL_EXTRA = """rating_timeout_s = 30
review_deadline_working_days = 5
holidays = ["2026-10-01", "2026-10-02"]
workdays = ["2026-09-27"]
queue_alert = 2"""


def at(day: str, hhmm: str = "10:00") -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=TZ).timestamp()


def config_text(database: str) -> str:
    text = hall_toml(database).replace("rating_timeout_s = 30", HALL_EXTRA)
    text = text.replace('id = "1"\nbusinesses = ["A", "B"]', 'id = "1"\nbusinesses = ["A", "B"]\nleader = "1002"')
    assert 'leader = "1002"' in text and "holidays" in text
    return text


class Hall(InProcessHall):
    """Starts (and restarts) an in-process daemon on one SQLite file; an httpx client on it."""

    def __init__(self, tmp_path, clock):
        super().__init__(str(tmp_path / "hall.sqlite3"), clock, ADAPTERS)
        self.keys: dict[str, str] = {}  # ticket id → rating key

    def config_text(self) -> str:
        return config_text(self.db)

    async def serve(self, kiosk: dict, clerk: dict, window: str = "1", business: str = "A",
                    openid: str | None = None) -> dict:
        """Issue a ticket, call it at `window` and finish it: the served case."""
        c = self.client
        body = {"business": business, **({"openid": openid} if openid else {})}
        r = await c.post("/api/v1/tickets", json=body, headers=kiosk)
        assert r.status_code == 201, r.text
        self.keys[r.json()["id"]] = r.json()["rating_key"]  # what the citizen's QR code carries
        r = await c.post(f"/api/v1/windows/{window}/call-next", headers=clerk)
        assert r.status_code == 200 and r.json()["ticket"], r.text
        r = await c.post(f"/api/v1/windows/{window}/finish", headers=clerk)
        assert r.status_code == 200, r.text
        return r.json()["finished"]

    async def rate(self, case: dict, level: int, reasons: list[int] | None = None, comment: str = ""):
        r = await self.client.post("/api/v1/ratings", json={"ticket": case["ticket"], "level": level,
                                                            "key": self.keys[case["ticket"]],
                                                            "reasons": reasons or [], "comment": comment})
        assert r.status_code == 201, r.text
        return r


@pytest.fixture
async def hall(tmp_path, clock):
    clock.now = at("2026-09-18")  # a Friday
    h = Hall(tmp_path, clock)
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
def tokens(hall):
    db = hall.db
    out = {
        "kiosk": token(db, "kiosk"),
        "supervisor": token(db, "supervisor"),
        "admin": token(db, "admin"),
        "clerk1": token(db, "clerk", "1", "1001"),
        "clerk2": token(db, "clerk", "2", "1002"),
    }
    return {k: {"Authorization": f"Bearer {v}"} for k, v in out.items()}
