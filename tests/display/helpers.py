"""A real MQTT subscriber for the display tests: collects messages, waits for one that matches."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import aiomqtt


@dataclass
class Got:
    topic: str
    payload: bytes
    retain: bool
    at: float

    def json(self):
        return json.loads(self.payload)


class Subscriber:
    def __init__(self, port: int, *topics: str, host: str = "127.0.0.1", username: str | None = None,
                 password: str | None = None):
        self.port = port
        self.host = host
        self.username, self.password = username, password
        self.topics = topics or ("queued/#",)
        self.messages: list[Got] = []
        self._new = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Subscriber:
        self.client = aiomqtt.Client(self.host, self.port, protocol=aiomqtt.ProtocolVersion.V311,
                                     username=self.username, password=self.password)
        await self.client.__aenter__()
        for t in self.topics:
            await self.client.subscribe(t, qos=1)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.client.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for m in self.client.messages:
            payload = m.payload if isinstance(m.payload, bytes) else str(m.payload).encode()
            self.messages.append(Got(str(m.topic), payload, bool(m.retain), time.perf_counter()))
            self._new.set()

    async def wait_for(self, pred, timeout: float = 3.0) -> Got:
        """The first message (already received or coming) for which `pred(msg)` is true."""
        deadline = time.perf_counter() + timeout
        seen = 0
        while True:
            for m in self.messages[seen:]:
                if pred(m):
                    return m
            seen = len(self.messages)
            left = deadline - time.perf_counter()
            if left <= 0:
                topics = [(m.topic, m.payload[:120]) for m in self.messages[-10:]]
                raise AssertionError(f"no matching MQTT message in {timeout} s; last: {topics}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), left)
            except TimeoutError:
                pass

    def on(self, topic: str) -> list[Got]:
        return [m for m in self.messages if m.topic == topic]


def led(window: str, **want):
    """Predicate: a `led` message of `window` whose JSON has the wanted fields."""
    topic = f"queued/main/window/{window}/led"

    def pred(m: Got) -> bool:
        if m.topic != topic:
            return False
        data = m.json()
        return all(data.get(k) == v for k, v in want.items())

    return pred
