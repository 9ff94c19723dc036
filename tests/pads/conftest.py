import os
import tty

import pytest

from firmware_bridge.emulator import PadBusEmulator, PadState
from tests.pads.support import LiveHall, PadHall


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


@pytest.fixture
async def live(tmp_path):
    """A real `queued serve` (LiveHall, not started) and pad 4 on a pty: (hall, emulator, pad)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    pad = PadState(4)
    emulator = PadBusEmulator(master, [pad])
    await emulator.start()
    hall = LiveHall(tmp_path, os.ttyname(slave))
    yield hall, emulator, pad
    await hall.close()
    await emulator.stop()
    for fd in (master, slave):
        os.close(fd)
