"""Fixtures every package's tests share: an in-process daemon with an ASGI client, real Mosquitto,
the local fakes of WeChat and Aliyun SMS."""

from __future__ import annotations

import httpx
import pytest

from tests.support import ARTIFACTS, Clock, Mosquitto, hall_toml, token


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_daemon(tmp_path, clock):
    """Async factory: `await make_daemon(extra="", adapters=[...], mqtt_url=None)` → a started Daemon.
    Every daemon it made is stopped after the test."""
    from queued.config import parse_config
    from queued.daemon import Daemon

    started = []

    async def factory(extra: str = "", adapters: list[str] | None = None, mqtt_url: str | None = None,
                      name: str = "hall", **kw):
        db = tmp_path / f"{name}.sqlite3"
        cfg = parse_config(hall_toml(str(db), mqtt_url=mqtt_url, extra=extra, **kw), source="test")
        d = Daemon(cfg, clock=clock, adapters=adapters if adapters is not None else [])
        await d.start()
        started.append(d)
        return d

    yield factory
    for d in reversed(started):
        await d.stop()


@pytest.fixture
async def daemon(make_daemon):
    """A started daemon with no adapters: the core API alone."""
    return await make_daemon()


@pytest.fixture
async def api(daemon):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=daemon.app), base_url="http://hall") as c:
        yield c


@pytest.fixture
def tokens(daemon):
    """Bearer headers per role: tokens["kiosk"], tokens["clerk1"] (window 1, clerk 1001), …"""
    db = daemon.config.database
    out = {
        "kiosk": token(db, "kiosk"),
        "supervisor": token(db, "supervisor"),
        "admin": token(db, "admin"),
        "clerk1": token(db, "clerk", "1", "1001"),
        "clerk2": token(db, "clerk", "2", "1002"),
        "clerk3": token(db, "clerk", "3"),
    }
    return {k: {"Authorization": f"Bearer {v}"} for k, v in out.items()}


@pytest.fixture(scope="session")
def mosquitto():
    """A real Mosquitto on a free port for the whole session."""
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def fake_wechat():
    """The local fake WeChat (tests/wechat/fake_wechat.py), started on a free port for the test."""
    from tests.wechat.fake_wechat import FakeWeChat

    fake = FakeWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_sms():
    """The local fake Aliyun SMS (tests/followup/fake_aliyun_sms.py), started on a free port for the test."""
    from tests.followup.fake_aliyun_sms import FakeAliyunSms

    fake = FakeAliyunSms().start()
    yield fake
    fake.stop()
