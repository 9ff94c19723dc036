"""Prompts outlive the host (serial-protocol.md 1.1), on a real `queued serve` and a pad on a real pty.

The soak run's lost prompt: a pad's FINISH is acknowledged, the daemon is killed with -9 before
RATE_REQUEST goes out, and the restarted daemon must still ask that citizen, with the time left,
and count the rating once. Three ways to get there, each at an exact point:
- `finish_committed`: the daemon SIGKILLs itself right after the FINISH's commit (test-only hook
  QUEUED_TEST_KILL_AFTER_COMMIT), so the prompt was never opened; the restarted daemon
  acknowledges the FINISH from its journal and opens the prompt then;
- `acknowledged`: the pad takes the ACK of its FINISH and then hears nothing (a stalled bus), so
  RATE_REQUEST never reaches it; the daemon is killed with -9 once the prompt is journaled;
- `offline_http`: the pad is unplugged, the clerk finishes over HTTP, the daemon is killed with -9;
  after the restart the pad comes back and is prompted.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from firmware_bridge.emulator import PadBusEmulator, PadState
from firmware_bridge.frames import KeyCode, Nak, NakCode, RateRequest
from tests.pads.support import wait_until

TIMEOUT_S = 30  # [hall] rating_timeout_s of the test hall


def stall_after_ack(emulator: PadBusEmulator, pad: PadState, evt: int) -> None:
    """The pad takes the POLL that acknowledges `evt`, then hears nothing more (the bus stalls).

    The host may send RATE_REQUEST before that POLL (a waiting command is served before the next
    plain POLL), so until the ACK the pad answers RATE_REQUEST with NAK busy: the soak run's moment
    (the FINISH acknowledged, the prompt never shown) at an exact point, whatever the order."""
    answer, handle = pad._answer_poll, pad.handle

    def answer_then_stall(poll):
        reply = answer(poll)
        if poll.ack == evt:
            emulator.set_silent(pad.address)
            pad._answer_poll, pad.handle = answer, handle
        return reply

    def busy_for_prompts(frame):
        if isinstance(frame, RateRequest) and frame.addr == pad.address:
            return Nak(NakCode.BUSY, addr=pad.address, seq=frame.seq)
        return handle(frame)

    pad._answer_poll, pad.handle = answer_then_stall, busy_for_prompts


@pytest.mark.parametrize("moment", ["finish_committed", "acknowledged", "offline_http"])
async def test_a_prompt_lost_to_kill_9_is_shown_after_the_restart_and_counts_once(live, moment):
    hall, emulator, pad = live
    hook = {"QUEUED_TEST_KILL_AFTER_COMMIT": "ticket_finished"} if moment == "finish_committed" else None
    await hall.start(hook)
    r = await hall.post("/api/v1/windows/4/sign-in", {"clerk": "1001", "pin": "1001"})
    assert r.status_code == 200, r.text
    r = await hall.post("/api/v1/tickets", {"business": "A"}, role="kiosk")
    assert r.status_code == 201, r.text
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001", what="A001 called from the pad")
    await wait_until(lambda: pad.pending == 0)

    if moment == "offline_http":
        emulator.set_silent(4)  # unplugged
        r = await hall.post("/api/v1/windows/4/finish")
        assert r.status_code == 200, r.text
        await wait_until(lambda: hall.events("rating_requested") == 1, what="the prompt journaled")
        hall.kill9()
    else:
        finish = pad.press(KeyCode.FINISH)
        if moment == "acknowledged":
            stall_after_ack(emulator, pad, finish.evt)
            await wait_until(lambda: pad.pending == 0, what="the FINISH acknowledged")
            await wait_until(lambda: hall.events("rating_requested") == 1, what="the prompt journaled")
            hall.kill9()
        else:
            await wait_until(lambda: hall.exited() is not None, what="the daemon killed by the hook")
            assert hall.exited() == -signal.SIGKILL
            assert (hall.events("ticket_finished"), hall.events("rating_requested")) == (1, 0)
            assert pad.pending == 1  # the FINISH was never acknowledged by the dead daemon
    assert pad.prompt is None  # nobody has asked the citizen
    killed_at = time.monotonic()

    await hall.start()  # no hook
    emulator.set_silent(4, False)  # the stalled or unplugged pad is heard again
    healthy = time.monotonic()
    await wait_until(lambda: pad.prompt is not None, 15, "RATE_REQUEST after the restart")
    print(f"{moment}: prompted {time.monotonic() - healthy:.2f} s after the restarted daemon was healthy"
          f" ({healthy - killed_at:.2f} s restart)")
    assert pad.pending == 0 and pad.ack_fallbacks == 0  # the FINISH acknowledged; ACK never fell back to 0
    assert pad.prompt.ticket == "A001"
    left = pad.prompt.deadline - pad.clock()
    if moment == "finish_committed":
        assert TIMEOUT_S - 2 <= left <= TIMEOUT_S  # opened by the restarted daemon
    else:
        assert left <= TIMEOUT_S - (time.monotonic() - killed_at) + 1  # the time left, not a fresh 30 s
    assert hall.events("ticket_finished") == 1  # the FINISH acted once
    case = pad.prompt.case
    pad.rate(4)
    await wait_until(lambda: pad.pending == 0, what="the rating acknowledged")
    assert hall.rows("SELECT case_id, level, channel FROM ratings") == [(case, 4, "pad")]

    hall.kill9()  # and once more: nothing is asked or counted again
    await hall.start()
    await asyncio.sleep(1.0)
    assert pad.prompt is None
    r = await hall.client.get("/api/v1/reports/reviews?group_by=window", headers=hall.h["supervisor"])
    row = next(x for x in r.json()["rows"] if x["key"] == "4")
    assert (row["served"], row["rated"], row["satisfied"]) == (1, 1, 1)
    assert hall.events("rating_recorded") == 1 and hall.events("rating_requested") == 1


async def test_the_next_cases_prompt_survives_a_kill_right_after_the_first_is_rated(live):
    """Two 办件 on A001: the first rated on the pad, the daemon dies right after that commit (which
    also opened the second's prompt, in the same decision) before RATE_REQUEST of the second goes out
    and before the RATING's ACK; after the restart the pad is asked about the second, and each
    办件 has exactly one rating."""
    hall, _emulator, pad = live
    await hall.start({"QUEUED_TEST_KILL_AFTER_COMMIT": "rating_recorded"})
    r = await hall.post("/api/v1/windows/4/sign-in", {"clerk": "1001", "pin": "1001"})
    assert r.status_code == 200, r.text
    assert (await hall.post("/api/v1/tickets", {"business": "A"}, role="kiosk")).status_code == 201
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001", what="A001 called from the pad")
    cases = []
    for pno in ("330106202612010301", "330106202612010302"):
        r = await hall.post("/api/v1/windows/4/cases", {"project_no": pno}, role="integration")
        assert r.status_code == 201, r.text
        cases.append(r.json()["case"])
    pad.press(KeyCode.FINISH)
    await wait_until(lambda: pad.prompt is not None, what="the first prompt")
    assert pad.prompt.case == cases[0]
    pad.rate(5)
    await wait_until(lambda: hall.exited() is not None, what="the daemon killed by the hook")
    assert pad.prompt is None and pad.pending == 1  # rated, not acknowledged; the second never sent
    assert hall.events("rating_requested") == 2  # the second prompt was committed with the rating

    await hall.start()
    await wait_until(lambda: pad.prompt is not None, 15, "the second prompt after the restart")
    assert pad.prompt.case == cases[1] and pad.pending == 0 and pad.ack_fallbacks == 0
    pad.rate(2, reasons=0b1)
    await wait_until(lambda: pad.pending == 0)
    assert hall.rows("SELECT case_id, level FROM ratings ORDER BY case_id") == [(cases[0], 5), (cases[1], 2)]
    assert hall.rows("SELECT COUNT(*) FROM rating_refusals") == [(0,)]
