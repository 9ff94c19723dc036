"""The pad-emu console: commands on a PadConsole, and the CLI end to end over the pty it creates."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from firmware_bridge.emulator import PadBusEmulator, PadState
from firmware_bridge.emulator_cli import PadConsole
from firmware_bridge.frames import Key, KeyCode, RateRequest, Rating, ShowParked, ShowState, WindowState
from firmware_bridge.poller import BusPoller

REPO = Path(__file__).resolve().parents[2]


def console(*addresses: int) -> PadConsole:
    return PadConsole(PadBusEmulator(-1, [PadState(a) for a in addresses]))


def test_key_commands_queue_events():
    con = console(1)
    con.execute("c")
    con.execute("t 4")
    con.execute("f")
    assert [(e.key, e.arg) for e in con.pad.queued_events] == [
        (KeyCode.CALL_NEXT, 0), (KeyCode.TRANSFER, 4), (KeyCode.FINISH, 0)]


def test_rating_with_reasons_and_errors_are_reported_not_raised():
    con = console(1, 2)
    assert con.execute("3")[0].startswith("!")  # no prompt open
    con.execute("a 2")
    con.pad.handle(RateRequest(99, 30, "A001", addr=2))
    con.execute("x 1 3")
    assert "不满意" in con.execute("2")[0]
    assert con.pad.queued_events[-1] == Rating(1, 99, 2, 0b101, addr=2)
    assert con.execute("t")[0].startswith("!")
    assert con.execute("bogus")[0].startswith("?")
    assert any("呼叫" in line for line in con.execute("help"))


def test_screens_show_state_in_chinese():
    con = console(1)
    con.pad.handle(ShowState(WindowState.PAUSED, 3, "B007", addr=1))
    text = "\n".join(con.screens())
    assert "暂停服务" in text and "B007" in text and "等候 3 人" in text
    assert "挂起" not in text
    con.pad.handle(ShowParked(("A012",), addr=1))
    assert "  窗口面 | 挂起 1 件: A012" in con.screens()


async def test_pad_emu_cli_creates_a_pty_that_a_poller_can_use():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "firmware_bridge", "--address", "7", cwd=REPO,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert first.startswith("pty ready: /dev/")
        path = first.split()[2]
        events = []

        async def on_event(addr, event):
            events.append((addr, event))

        async with BusPoller(path, [7], on_event, min_cycle_s=0.005) as poller:
            proc.stdin.write(b"c\n")
            await proc.stdin.drain()
            for _ in range(400):
                if events:
                    break
                await asyncio.sleep(0.01)
            assert poller.is_online(7)
        assert [(a, type(e), e.key) for a, e in events] == [(7, Key, KeyCode.CALL_NEXT)]
        proc.stdin.write(b"q\n")
        await proc.stdin.drain()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
