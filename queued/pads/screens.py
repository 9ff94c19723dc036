"""What a window's pad must show, computed from the engine, and which pad key means which command.

Pure: no I/O. The adapter compares `state_frame` with what it last sent and sends only changes
(BusPoller.send also replaces a queued older SHOW_STATE, so a burst collapses to the latest).
"""

from __future__ import annotations

from firmware_bridge.frames import Key, KeyCode, ShowClerk, ShowParked, ShowState, WindowState
from queued.core import commands as c
from queued.core.errors import CoreError, UnknownBusiness
from queued.core.hall import HallConfig

PAD_STATES = {
    "idle": WindowState.IDLE,
    "calling": WindowState.CALLING,
    "serving": WindowState.SERVING,
    "paused": WindowState.PAUSED,
    "closed": WindowState.CLOSED,
}

# The keys act as the HTTP window actions of the same names (http-api.md).
KEY_COMMANDS = {
    KeyCode.CALL_NEXT: c.CallNext,  # from serving the engine finishes the current case first
    KeyCode.RECALL: c.Recall,
    KeyCode.SKIP: c.Skip,
    KeyCode.PAUSE: c.Pause,
    KeyCode.RESUME: c.Resume,
}


def state_frame(engine, window: str) -> ShowState:
    w = engine.windows[window]
    number = w.current.number if w.current is not None else ""
    return ShowState(PAD_STATES[w.state], min(engine.waiting_for_window(window), 0xFFFF), number)


NONE_PARKED = ShowParked()


def parked_frame(engine, window: str) -> ShowParked:
    """The window's 挂起 cases, oldest first (SHOW_PARKED, docs/pads.md); the frame keeps the numbers
    that fit, COUNT says how many there are."""
    parked = engine.windows[window].parked
    if not parked:
        return NONE_PARKED
    return ShowParked(tuple(t.number for t in list(parked.values())[:255]), min(len(parked), 255))


def clerk_frame(hall: HallConfig, engine, window: str) -> ShowClerk:
    """The clerk signed in at the window (姓名, 工号, stars), or a blank citizen side when nobody is."""
    clerk = hall.clerk_index.get(engine.windows[window].clerk or "")
    if clerk is None:
        return ShowClerk(0, "", "")
    return ShowClerk(clerk.stars, clerk.id, clerk.name)


def key_command(hall: HallConfig, window: str, key: Key):
    """The engine command a clerk key stands for; UnknownBusiness for a 转移 to no business."""
    if key.key == KeyCode.TRANSFER:
        business = hall.business_by_position(key.arg)
        if business is None:
            raise UnknownBusiness(f"转移目标业务 {key.arg} 不存在，本厅有 {len(hall.businesses)} 项业务"
                                  f"（no business number {key.arg}）")
        return c.Transfer(window, business=business.code)
    if key.key == KeyCode.FINISH:  # from calling the start is implied; ARG = the outcome (0: done)
        outcome = hall.outcome_by_position(key.arg)
        if outcome is None:
            raise CoreError(f"办结结果 {key.arg} 不存在，本厅有 {len(hall.outcomes)} 种结果（no outcome number {key.arg}）")
        # A pad cannot type: a 办不成 pressed there is recorded (the ledger must see it) with a note saying so.
        note = PAD_FAILED_NOTE if outcome == "failed" else ""
        return c.Finish(window, outcome, note)
    return KEY_COMMANDS[KeyCode(key.key)](window)


PAD_FAILED_NOTE = "评价器按键办结，未录入原因"
