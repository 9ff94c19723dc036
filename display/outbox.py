"""The queue between the runtime and a slow consumer (the broker link, a /screen stream).

Bounded by construction: state (a window's screen, the board) is only a dirty mark, so a hundred
changes to one window while the broker is away become one message with the latest state; calls,
which are announcements, are kept in order up to `call_limit` (the oldest go first when it is full).
Putting is O(1) and never waits, so a listener on the hot path can use it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from display.messages import Changes


class Outbox:
    def __init__(self, call_limit: int = 200):
        self.windows: dict[str, bool] = {}  # window → flash asked since the last send
        self.board = False
        self.calls: deque[dict[str, Any]] = deque()
        self.call_limit = call_limit
        self.dropped_calls = 0
        self.ready = asyncio.Event()

    def put(self, changes: Changes) -> None:
        for window, flash in changes.windows.items():
            self.windows[window] = self.windows.get(window, False) or flash
        self.board = self.board or changes.board
        for call in changes.calls:
            if len(self.calls) >= self.call_limit:
                self.calls.popleft()
                self.dropped_calls += 1
            self.calls.append(call)
        if changes:
            self.ready.set()

    def mark_all(self, windows, board: bool = True) -> None:
        """Everything is due again (after a reconnect): screens must be right at once."""
        for w in windows:
            self.windows.setdefault(w, False)
        self.board = self.board or board
        self.ready.set()

    def take(self) -> Changes:
        out = Changes(self.windows, self.board, list(self.calls))
        self.windows = {}
        self.board = False
        self.calls.clear()
        self.ready.clear()
        return out

    def __bool__(self) -> bool:
        return bool(self.windows or self.board or self.calls)

    def __len__(self) -> int:
        return len(self.windows) + int(self.board) + len(self.calls)
