"""Which screens are alive: each publishes `{prefix}/{hall}/screen/{id}/alive` every 10 s, and one
is offline after 30 s without (wills alone are not enough: some brokers never time out a client).

Anything can be published on a broker, so a heartbeat is read defensively: a bad topic, a payload
that is not the spec's JSON, or a flood of made-up screen ids is ignored or bounded, never raised.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

OFFLINE_AFTER_S = 30.0
MAX_PAYLOAD = 4096  # a heartbeat is a few dozen bytes
MAX_SCREENS = 1000  # ids beyond this (a misbehaving client) are not tracked
MAX_WINDOWS = 256
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(slots=True)
class Screen:
    id: str
    windows: tuple[str, ...]
    last_seen: float


def parse_alive(topic: str, payload: bytes, base: str) -> tuple[str, tuple[str, ...]] | None:
    """(screen id, windows) of a valid heartbeat on `{base}/screen/{id}/alive`, else None."""
    prefix = base + "/screen/"
    if not topic.startswith(prefix) or not topic.endswith("/alive"):
        return None
    screen_id = topic[len(prefix):-len("/alive")]
    if not _ID.match(screen_id) or len(payload) > MAX_PAYLOAD:
        return None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("v") != 1:
        return None
    windows = data.get("windows", [])
    if not isinstance(windows, list) or len(windows) > MAX_WINDOWS:
        return None
    if not all(isinstance(w, str) and 0 < len(w) <= 16 for w in windows):
        return None
    return screen_id, tuple(windows)


class ScreenRegistry:
    def __init__(self, offline_after_s: float = OFFLINE_AFTER_S):
        self.offline_after_s = offline_after_s
        self.screens: dict[str, Screen] = {}
        self.ignored = 0  # heartbeats refused (bad topic or payload, too many screens)

    def heard(self, screen_id: str, windows: tuple[str, ...], now: float) -> bool:
        s = self.screens.get(screen_id)
        if s is None:
            if len(self.screens) >= MAX_SCREENS:
                self._forget_offline(now)
                if len(self.screens) >= MAX_SCREENS:
                    self.ignored += 1
                    return False
            self.screens[screen_id] = Screen(screen_id, windows, now)
        else:
            s.windows = windows
            s.last_seen = max(s.last_seen, now)
        return True

    def online(self, screen: Screen, now: float) -> bool:
        return now - screen.last_seen <= self.offline_after_s

    def count_online(self, now: float) -> int:
        return sum(1 for s in self.screens.values() if self.online(s, now))

    def _forget_offline(self, now: float) -> None:
        for sid in [sid for sid, s in self.screens.items() if not self.online(s, now)]:
            del self.screens[sid]

    def listing(self, now: float, iso) -> list[dict[str, Any]]:
        return [{"id": s.id, "windows": list(s.windows), "online": self.online(s, now),
                 "last_seen": iso(s.last_seen), "silent_s": round(max(0.0, now - s.last_seen), 1)}
                for s in sorted(self.screens.values(), key=lambda s: s.id)]
