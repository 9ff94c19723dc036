import time

import pytest

from tests.province.fake_platform import FakePlatform
from tests.province.support import ADAPTERS, Hall
from tests.support import token


class RunningClock:
    """The hall's clock for push tests: it runs in real time (retries come due by themselves) from
    10:00 hall time today, and `advance` jumps it forward (a day-long outage in a second)."""

    def __init__(self):
        t = time.time()
        self.start = t - ((t + 8 * 3600) % 86400) + 10 * 3600
        self.t0 = time.monotonic()
        self.offset = 0.0

    def __call__(self) -> float:
        return self.start + (time.monotonic() - self.t0) + self.offset

    @property
    def now(self) -> float:
        return self()

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock():
    return RunningClock()


@pytest.fixture
def fake(clock):
    """The fake platform on the test's clock (real time unless the test moves it)."""
    f = FakePlatform(clock=clock).start()
    yield f
    f.stop()


@pytest.fixture
async def make_hall(make_daemon, tmp_path):
    """`await make_hall(fake, "zhejiang")` → a Hall pushing to `fake` with that profile."""
    halls = []

    async def factory(fake, profile: str, extra: str = "", hall_extra: str = "", name: str = "hall", **kw) -> Hall:
        toml = fake.province_toml(profile, tmp_path, **kw) + extra if fake is not None else extra
        d = await make_daemon(extra=toml, adapters=ADAPTERS, hall_extra=hall_extra, name=name)
        db = d.config.database
        tokens = {"kiosk": token(db, "kiosk"), "admin": token(db, "admin"), "supervisor": token(db, "supervisor"),
                  "clerk1": token(db, "clerk", "1", "1001"), "clerk2": token(db, "clerk", "2", "1002"),
                  "clerk3": token(db, "clerk", "3")}
        h = Hall(d, tokens)
        if h.province.sender is not None:
            h.province.sender.poll_s = 0.05
        halls.append(h)
        return h

    yield factory
    for h in halls:
        await h.close()
