"""The spec's MQTT payloads (`../shared/spec/mqtt.md`), built from the engine's state and events.

Pure: no I/O, no clock. `ScreenModel.observe(events)` says what the events changed (windows,
board, calls to announce); the `led`/`board` builders read the engine when the publisher is ready
to send, so a burst of changes to one window becomes one message with its latest state.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from queued.core import events as e
from queued.core.hall import HallConfig

RECENT_CALLS = 10  # calls the board keeps
STATE_TOPICS_VERSION = 1

# Events that change the board's waiting counts or its recent calls.
_BOARD_EVENTS = (e.TicketIssued, e.TicketCalled, e.TicketRecalled, e.TicketCancelled, e.TicketTransferred,
                 e.TicketSkipped, e.DayStarted, e.DayClosed)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    qos: int = 1


@dataclass(slots=True)
class Changes:
    """What one commit changed for the screens."""

    windows: dict[str, bool] = field(default_factory=dict)  # window → flash (a call or recall)
    board: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.windows or self.board or self.calls)


def speech(number: str, window_label: str) -> str:
    """What announcers say: 请A001号到3号窗口办理 (the screen page reads the digits one by one)."""
    return f"请{number}号到{window_label}办理"


def gbk_text(lines: Iterable[str]) -> bytes:
    """The lines as GBK joined by newlines; a character GBK lacks becomes '?' (never raises)."""
    clean = [str(line).replace("\r", " ").replace("\n", " ") for line in lines]
    return "\n".join(clean).encode("gbk", errors="replace")


def parked_line(parked: dict) -> str:
    """The LED's line for a window's 挂起 cases: 挂起 A012, or 挂起 3 件; "" when none."""
    if not parked:
        return ""
    if len(parked) == 1:
        return f"挂起 {next(iter(parked.values())).number}"
    return f"挂起 {len(parked)} 件"


def dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ScreenModel:
    def __init__(self, hall: HallConfig, prefix: str, iso: Callable[[float], str], repeat: int = 2,
                 audio_for: Callable[[str, str], str | None] | None = None):
        self.hall = hall
        self.prefix = prefix
        self.iso = iso
        self.repeat = repeat  # extension of `calls`: how often announcers say it ([hall] announce_repeat)
        self.audio_for = audio_for  # (ticket, window label) → the call's audio path (display.voice)
        self.base = f"{prefix}/{hall.id}"
        self.seq: dict[str, int] = {w.id: 0 for w in hall.windows}
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_CALLS)  # newest first
        self._labels = {w.id: w.label for w in hall.windows}

    # ---- topics --------------------------------------------------------------------------------

    def status_topic(self) -> str:
        return f"{self.base}/status"

    def led_topic(self, window: str) -> str:
        return f"{self.base}/window/{window}/led"

    def board_topic(self) -> str:
        return f"{self.base}/board"

    def calls_topic(self) -> str:
        return f"{self.base}/calls"

    def alive_filter(self) -> str:
        return f"{self.base}/screen/+/alive"

    def label(self, window: str) -> str:
        return self._labels.get(window) or f"{window}号窗口"

    # ---- what changed ----------------------------------------------------------------------------

    def observe(self, engine, events: Iterable[e.Event]) -> Changes:
        """Note what `events` change; called in the runtime's listener, so it must stay cheap."""
        ch = Changes()
        for ev in events:
            kind = type(ev)
            if kind is e.TicketCalled or kind is e.TicketRecalled:
                ch.windows[ev.window] = True
                t = engine.tickets.get(ev.ticket)
                if t is not None:
                    call = self.call(t.number, ev.window, "call" if kind is e.TicketCalled else "recall", ev.at)
                    ch.calls.append(call)
                    self._remember(call)
            elif kind is e.DayStarted:
                self.recent.clear()
                ch.windows.update((w, False) for w in self.seq)
            elif kind is e.TicketCancelled:
                t = engine.tickets.get(ev.ticket)
                if t is not None and t.window is not None:
                    ch.windows.setdefault(t.window, False)
            else:
                window = getattr(ev, "window", None)
                if window is not None and kind is not e.ClerkSignedOut:
                    ch.windows.setdefault(window, False)
            if kind in _BOARD_EVENTS:
                ch.board = True
        return ch

    def _remember(self, call: dict[str, Any]) -> None:
        # A recall moves the ticket back to the top instead of listing it twice.
        for i, old in enumerate(self.recent):
            if old["ticket"] == call["ticket"]:
                del self.recent[i]
                break
        self.recent.appendleft({"ticket": call["ticket"], "window": call["window"], "at": call["at"]})

    def rebuild_recent(self, engine) -> None:
        """After a restart: the board's recent calls from today's tickets (replay feeds no listener)."""
        called = [t for t in engine.tickets.values() if t.called_at is not None and t.window is not None]
        called.sort(key=lambda t: t.called_at)
        self.recent.clear()
        for t in called[-RECENT_CALLS:]:
            self.recent.appendleft({"ticket": t.number, "window": t.window, "at": self.iso(t.called_at)})

    # ---- payloads ------------------------------------------------------------------------------

    def call(self, number: str, window: str, kind: str, at: float) -> dict[str, Any]:
        label = self.label(window)
        out = {"v": 1, "hall": self.hall.id, "window": window, "ticket": number, "kind": kind,
               "speech": speech(number, label)}
        audio = self.audio_for(number, label) if self.audio_for is not None else None
        if audio is not None:
            out["audio"] = audio
        out["repeat"] = self.repeat
        out["at"] = self.iso(at)
        return out

    def led_content(self, engine, window: str) -> dict[str, Any]:
        """The window's screen without seq/flash/at: what decides whether it changed."""
        w = engine.windows[window]
        cur = w.current
        state = w.state
        number = cur.number if cur is not None and state in ("calling", "serving") else None
        if state == "calling":
            lines = [number or "", f"请到{self.label(window)}"]
        elif state == "serving":
            lines = [number or "", "正在办理"]
        elif state == "paused":
            lines = ["暂停服务", parked_line(w.parked)]
        elif state == "closed":
            lines = ["本窗口暂停办理", "请到其他窗口"]
        else:
            lines = [self.label(window), parked_line(w.parked) or "欢迎光临"]
        out = {"v": 1, "hall": self.hall.id, "window": window, "state": state, "ticket": number,
               "business": cur.business if number else None, "lines": lines}
        if w.parked:  # extension (docs/screens.md): the window's 挂起 cases, oldest first
            out["parked"] = [t.number for t in w.parked.values()]
        return out

    def led(self, engine, window: str, flash: bool, now: float, content: dict[str, Any] | None = None) -> dict[str, Any]:
        """The window's `led` payload; each call advances the window's `seq`."""
        out = dict(content or self.led_content(engine, window))
        w = engine.windows[window]
        calling = out["state"] == "calling"
        at = w.current.called_at if calling and w.current is not None and w.current.called_at else w.since
        self.seq[window] = self.seq.get(window, 0) + 1
        out["flash"] = bool(flash and calling)
        out["seq"] = self.seq[window]
        out["at"] = self.iso(at or now)  # a window never opened today has no time of its own
        return out

    def call_mark(self, engine, window: str) -> tuple | None:
        """Which call the window shows (ticket, time, recalls); a new value means: flash."""
        w = engine.windows[window]
        if w.state != "calling" or w.current is None:
            return None
        return w.current.id, w.current.called_at, w.current.recalls

    def led_messages(self, led: dict[str, Any]) -> list[Message]:
        topic = self.led_topic(led["window"])
        return [Message(topic, dumps(led), True), Message(topic + "/gbk", gbk_text(led["lines"]), True)]

    def waiting(self, engine) -> dict[str, int]:
        return {b.code: engine.waiting(b.code) for b in self.hall.businesses}

    def board(self, engine, now: float) -> dict[str, Any]:
        return {"v": 1, "hall": self.hall.id, "recent": list(self.recent), "waiting": self.waiting(engine),
                "at": self.iso(now)}

    def status_message(self, online: bool) -> Message:
        return Message(self.status_topic(), b"online" if online else b"offline", True)

    def board_message(self, board: dict[str, Any]) -> Message:
        return Message(self.board_topic(), dumps(board), True)

    def call_message(self, call: dict[str, Any]) -> Message:
        return Message(self.calls_topic(), dumps(call), False)
