"""A hall with pads on a real pty: the emulator on the master fd, the daemon on the slave path."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import tty

import httpx

from firmware_bridge.emulator import PadBusEmulator, PadState
from tests.support import ServeProcess, eventually, free_port, hall_toml, token

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter", "queued.pads:PadAdapter"]


def pad_windows(port: str, reply_timeout_ms: int = 100, remote: bool = False) -> str:
    """Windows 4 (A) and 5 (B) with pads 4 and 5 on one bus; windows 1–3 of the test hall have none."""
    return f"""
[[window]]
id = "4"
businesses = ["A"]
pad = {{ port = "{port}", address = 4 }}

[[window]]
id = "5"
businesses = ["B"]
pad = {{ port = "{port}", address = 5 }}

[[bus]]
port = "{port}"
reply_timeout_ms = {reply_timeout_ms}
remote = {"true" if remote else "false"}
"""


async def wait_until(condition, timeout: float = 10.0, what: str = "condition") -> None:
    await eventually(condition, timeout, 0.01, what)


def metric(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text (labels in any order), 0 when absent."""
    want = {k: str(v) for k, v in labels.items()}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([0-9.e+-]+)$", line)
        if m and m.group(1) == name and dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")) == want:
            return float(m.group(3))
    return 0.0


class PadHall:
    """A daemon (evaluator + pads) and emulated pads 4 and 5 behind a pty, with an API client."""

    def __init__(self, make_daemon):
        self.make_daemon = make_daemon
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.emulator = PadBusEmulator(self.master, [PadState(4), PadState(5)])
        self.daemon = None
        self.client: httpx.AsyncClient | None = None
        self.headers: dict[str, dict] = {}

    @property
    def pad4(self) -> PadState:
        return self.emulator.pad(4)

    async def start(self, extra: str | None = None, **kw):
        await self.emulator.start()
        return await self.start_daemon(extra, **kw)

    async def start_daemon(self, extra: str | None = None, **kw):
        self.daemon = await self.make_daemon(extra=extra or pad_windows(self.path), adapters=ADAPTERS, **kw)
        if self.client is not None:
            await self.client.aclose()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.daemon.app), base_url="http://hall")
        db = self.daemon.config.database
        if not self.headers:
            for role in ("kiosk", "supervisor", "admin"):
                self.headers[role] = {"Authorization": f"Bearer {token(db, role)}"}
        return self.daemon

    @property
    def adapter(self):
        return self.daemon.adapter("PadAdapter")

    async def get(self, path: str, role: str = "admin") -> httpx.Response:
        return await self.client.get(path, headers=self.headers[role])

    async def post(self, path: str, body: dict | None = None, role: str = "admin") -> httpx.Response:
        return await self.client.post(path, json=body or {}, headers=self.headers[role])

    async def issue(self, business: str = "A") -> dict:
        r = await self.post("/api/v1/tickets", {"business": business}, role="kiosk")
        assert r.status_code == 201, r.text
        return r.json()

    async def window(self, w: str = "4") -> dict:
        return (await self.get(f"/api/v1/windows/{w}")).json()

    async def metrics(self) -> str:
        return (await self.client.get("/metrics")).text

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self.daemon is not None:
            await self.daemon.stop()  # before the pty goes (make_daemon's own stop is then a no-op)
        await self.emulator.stop()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


# Window 4 with its pad alone on the bus at {port} (a pty); tests/province/test_crash.py uses it too.
PAD_WINDOW = """
[[window]]
id = "4"
businesses = ["A"]
pad = {{ port = "{port}", address = 4 }}

[[bus]]
port = "{port}"
"""


class LiveHall:
    """A real `queued serve` with window 4's pad on a pty; restartable, with or without the crash hook."""

    def __init__(self, tmp_path, pty_path: str):
        self.tmp = tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = str(tmp_path / "hall.sqlite3")
        self.conf = tmp_path / "hall.toml"
        self.conf.write_text(hall_toml(self.db, http_port=self.port, extra=PAD_WINDOW.format(port=pty_path)),
                             encoding="utf-8")
        self.proc: ServeProcess | None = None
        self.h: dict[str, dict] = {}
        self.client = httpx.AsyncClient(base_url=self.base, timeout=10)

    async def start(self, env: dict | None = None) -> None:
        self.proc = ServeProcess(self.conf, self.tmp, env=env)
        await asyncio.to_thread(self.proc.start, self.base, 30)
        if not self.h:
            for role, args in (("kiosk", ()), ("supervisor", ()), ("integration", ()), ("clerk", ("4", "1001"))):
                self.h[role] = {"Authorization": f"Bearer {token(self.db, role, *args)}"}

    def exited(self) -> int | None:
        return self.proc.proc.poll()

    def kill9(self) -> None:
        self.proc.kill(signal.SIGKILL)

    async def post(self, path: str, body=None, role: str = "clerk") -> httpx.Response:
        return await self.client.post(path, json=body or {}, headers=self.h[role])

    def rows(self, sql: str, params=()) -> list[tuple]:
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            return [tuple(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()

    def events(self, kind: str) -> int:
        return self.rows("SELECT COUNT(*) FROM events WHERE kind = ?", (kind,))[0][0]

    async def close(self) -> None:
        await self.client.aclose()
        if self.proc is not None:
            self.proc.stop()
