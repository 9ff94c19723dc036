"""Fixtures of the central service's tests: one throwaway PostgreSQL cluster for the session (started
from the distribution's binaries on a free port, never the machine's running server), a fresh
database per test, the service in-process (ASGI) or as a real `queued central serve` process."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from central.pgcluster import Cluster
from tests.support import QUEUED, free_port

_n = itertools.count(1)


@pytest.fixture(scope="session")
def pg():
    folder = tempfile.mkdtemp(prefix="central-pg-")
    cluster = Cluster(folder).start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def central_url(pg):
    """A fresh, empty database in the session's cluster: postgresql://… for one test."""
    import asyncpg

    name = f"t{os.getpid()}_{next(_n)}"

    async def create():
        conn = await asyncpg.connect(pg.url)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    asyncio.run(create())
    return pg.url.rsplit("/", 1)[0] + "/" + name


def write_config(path: Path, database: str, port: int, name: str = "示例市政务服务中心") -> Path:
    path.write_text(f'[central]\ndatabase = "{database}"\nhttp = "127.0.0.1:{port}"\nname = "{name}"\n',
                    encoding="utf-8")
    return path


def cli(*args: str) -> str:
    """Run `queued central …` and return its stdout (the token is its last line)."""
    out = subprocess.run([QUEUED, "central", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def stable_port() -> int:
    """A free port below the ephemeral range: while the service is down, a hall retrying to connect
    could otherwise be handed that very port for its own socket (a TCP self-connect) and keep it."""
    import random
    import socket

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(max(1025, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


class CentralProcess:
    """A real `queued central serve` on a free port."""

    def __init__(self, tmp: Path, database: str, port: int | None = None):
        self.port = port or stable_port()
        self.config = write_config(tmp / f"central-{self.port}.toml", database, self.port)
        self.log = tmp / f"central-{self.port}.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def token(self, *args: str) -> str:
        return cli("token", "create", *args, "--config", str(self.config)).strip().splitlines()[-1]

    def start(self, timeout: float = 30) -> CentralProcess:
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([QUEUED, "central", "serve", "--config", str(self.config)],
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"central exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"central did not become healthy:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def central_process(tmp_path, central_url):
    procs: list[CentralProcess] = []

    def make(port: int | None = None) -> CentralProcess:
        p = CentralProcess(tmp_path, central_url, port)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.stop()


@pytest.fixture
async def central_app(central_url):
    """The service in-process: (app, pool); the ASGI client is `central_client`."""
    from central.config import CentralConfig
    from central.service import build

    app, pool = await build(CentralConfig(database=central_url))
    yield app, pool
    await pool.close()


@pytest.fixture
async def central_client(central_app):
    app, _ = central_app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://central") as c:
        yield c
