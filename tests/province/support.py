"""Driving a hall whose ratings go to the fake platform: serve a case, bind its 办件, rate it."""

from __future__ import annotations

import itertools

import httpx

from evaluator.commands import Rate
from tests.support import eventually

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter",
            "evaluator.province.service:ProvinceAdapter"]
_numbers = itertools.count(1)
ID_NUMBER = "330201199001011234"
PHONE = "13800138000"


def project_no(window: str) -> str:
    """办件编号 of the test cases: the window is in it, so the fake can count per window."""
    return f"ZJ-{window}-{next(_numbers):05d}"


def applicant(n: int = 0) -> dict:
    return {"name": "王小明", "id_number": ID_NUMBER[:-4] + f"{1234 + n:04d}"[-4:],
            "phone": PHONE[:-4] + f"{n:04d}"[-4:]}


async def wait_until(condition, timeout: float = 15.0, what: str = "condition", step: float = 0.02) -> None:
    await eventually(condition, timeout, step, what)


class Hall:
    """An in-process daemon with the evaluator and the provincial push, driven over ASGI HTTP."""

    def __init__(self, daemon, tokens: dict[str, str]):
        self.d = daemon
        self.api = httpx.AsyncClient(transport=httpx.ASGITransport(app=daemon.app), base_url="http://hall")
        self.h = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}

    @property
    def province(self):
        return self.d.adapter("ProvinceAdapter")

    @property
    def journal(self):
        return self.d.runtime.journal

    async def close(self) -> None:
        await self.api.aclose()

    async def serve(self, window: str = "1", bind: bool = True, n: int = 0, business: str | None = None,
                    item_code: str = "330201001000123456789012345678901") -> dict:
        """Issue, call, (bind a 办件), finish: the case as the `cases` table holds it."""
        business = business or {"1": "A", "2": "B", "3": "C"}.get(window, "A")
        r = await self.api.post("/api/v1/tickets", json={"business": business}, headers=self.h["kiosk"])
        assert r.status_code == 201, r.text
        ticket, key = r.json()["id"], r.json().get("rating_key")
        clerk = self.h[f"clerk{window}"]
        r = await self.api.post(f"/api/v1/windows/{window}/call-next", headers=clerk)
        assert r.status_code == 200, r.text
        pno = project_no(window) if bind else None
        case = {"project_no": pno, "item_code": item_code, "item_name": "企业设立登记",
                "dept_code": "11330200MB1234567X", "applicant": applicant(n)}
        if bind:
            r = await self.api.post(f"/api/v1/windows/{window}/cases", json=case, headers=self.h["admin"])
            assert r.status_code == 201, r.text
        r = await self.api.post(f"/api/v1/windows/{window}/finish", headers=clerk)
        assert r.status_code == 200, r.text
        await self.journal.append([])
        row = await self.journal.fetchone("SELECT case_id FROM cases WHERE ticket = ? AND project_no IS ?",
                                          (ticket, pno))
        return {"case": row["case_id"], "ticket": ticket, "project_no": pno, "window": window, "key": key}

    async def rate(self, case: dict, level: int = 5, reasons: int = 0, comment: str = "", channel: str = "pad"):
        """On the window's pad, or ("qr") as the holder with the ticket's rating key."""
        ev = self.d.adapter("EvaluatorAdapter")
        if channel == "pad":
            cmd = Rate(level, case=case["case"], reasons=reasons, comment=comment, channel="pad", window=case["window"])
        else:
            assert channel == "qr", channel
            cmd = Rate(level, case=case["case"], reasons=reasons, comment=comment, key=case["key"])
        return await ev.rate(cmd)

    async def outbox(self, **where) -> list[dict]:
        await self.journal.append([])
        sql = "SELECT * FROM province_outbox"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        return [dict(r) for r in await self.journal.fetchall(sql + " ORDER BY id", tuple(where.values()))]

    async def settled(self, timeout: float = 20.0) -> None:
        """Wait until no record is left to send (every row delivered, rejected or not pushable)."""
        async def done():
            rows = await self.journal.fetchall(
                "SELECT 1 FROM province_outbox WHERE state IN ('pending', 'retrying', 'blocked_on_service') LIMIT 1")
            return not rows
        self.province.sender.wake()
        await wait_until(done, timeout, "the outbox settled")
