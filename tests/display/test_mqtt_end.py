"""A link whose aiomqtt exit waits for a disconnect report that never comes still ends (once in a
full CI run the daemon's stop hung there for good)."""

from __future__ import annotations

import asyncio
import time

from queued.mqtt_end import end_link


class StuckClient:
    """What aiomqtt's context exit awaits: the `_disconnected` future, here never set by paho."""

    def __init__(self):
        self._disconnected = asyncio.get_running_loop().create_future()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await asyncio.shield(self._disconnected)  # aiomqtt: `_wait_for(self._disconnected, None)`


async def test_a_link_stuck_in_its_disconnect_is_ended_within_seconds():
    client = StuckClient()

    async def link():
        async with client:
            await asyncio.sleep(3600)

    async def stubborn():
        while True:  # a task that swallows its cancellation until the exit completes
            try:
                async with client:
                    await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if client._disconnected.done():
                    raise

    for body in (link, stubborn):
        client = StuckClient()
        task = asyncio.create_task(body())
        await asyncio.sleep(0.01)
        started = time.monotonic()
        await end_link(task, client, grace_s=0.3)
        assert task.done() and time.monotonic() - started < 2.0
        assert client._disconnected.done()


async def test_a_link_that_ends_at_once_is_not_waited_for():
    task = asyncio.create_task(asyncio.sleep(3600))
    started = time.monotonic()
    await end_link(task, None)
    assert task.cancelled() and time.monotonic() - started < 0.5
    await end_link(None)
