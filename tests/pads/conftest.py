import pytest

from tests.pads.support import PadHall


@pytest.fixture
async def hall(make_daemon):
    h = PadHall(make_daemon)
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
async def signed_in(hall):
    """Clerk 1001 (张三) signed in at window 4; the pad shows them."""
    r = await hall.post("/api/v1/windows/4/sign-in", {"clerk": "1001", "pin": "1001"})
    assert r.status_code == 200, r.text
    return hall
