"""Rendered audio, one WAV per phrase, and the calls that name it (each call has its own id and
URL, served for `keep_s` after the call: mqtt.md asks for at least 10 minutes).

Pure: the time comes in. A phrase is kept while a call that names it has not expired (a recall of
the same ticket at the same window reuses it); past `budget` bytes the oldest calls go first,
before their time, and are counted (raise [voice] cache_mb if that ever happens).
"""

from __future__ import annotations

from collections import OrderedDict


class AudioStore:
    def __init__(self, keep_s: float, budget: int):
        self.keep_s = keep_s
        self.budget = budget
        self.calls: OrderedDict[str, tuple[str, float]] = OrderedDict()  # id → (phrase key, expires at)
        self.audio: dict[str, bytes] = {}  # phrase key → WAV
        self.refs: dict[str, int] = {}  # phrase key → calls naming it
        self.phrases: dict[str, object] = {}  # phrase key → what to render, while a call names it
        self.bytes = 0
        self.evicted_early = 0

    def add_call(self, call_id: str, key: str, now: float, phrase: object = None) -> None:
        self.prune(now)
        self.calls[call_id] = (key, now + self.keep_s)
        self.refs[key] = self.refs.get(key, 0) + 1
        if phrase is not None:
            self.phrases[key] = phrase

    def wanted(self, key: str) -> bool:
        """Some call still names this phrase (else rendering it is wasted)."""
        return self.refs.get(key, 0) > 0

    def put(self, key: str, data: bytes) -> None:
        if not self.wanted(key) or key in self.audio:
            return
        self.audio[key] = data
        self.bytes += len(data)
        while self.bytes > self.budget and len(self.calls) > 1:
            self._drop(next(iter(self.calls)))
            self.evicted_early += 1

    def key_of(self, call_id: str, now: float) -> str | None:
        """The phrase a call names, or None when the call is unknown or expired."""
        self.prune(now)
        entry = self.calls.get(call_id)
        return entry[0] if entry else None

    def prune(self, now: float) -> None:
        while self.calls:
            call_id, (_, expires) = next(iter(self.calls.items()))
            if expires > now:
                break
            self._drop(call_id)

    def _drop(self, call_id: str) -> None:
        key, _ = self.calls.pop(call_id)
        left = self.refs.get(key, 1) - 1
        if left > 0:
            self.refs[key] = left
            return
        self.refs.pop(key, None)
        self.phrases.pop(key, None)
        data = self.audio.pop(key, None)
        if data is not None:
            self.bytes -= len(data)
