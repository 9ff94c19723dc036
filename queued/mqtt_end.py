"""Ending an aiomqtt link's task within a bound (the display link and the pads' remote link).

aiomqtt's context exit sends DISCONNECT and then waits, without a time-out, for paho to report
the connection closed. Once in a full CI run that report never came, and the daemon's stop hung
for good. So: cancel the task, give it 2 s, then tell the client its connection is gone (its
`_disconnected` future, which is what the exit awaits) and give it 1 s more.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("queued.mqtt")


async def end_link(task: asyncio.Task | None, client=None, grace_s: float = 2.0) -> None:
    if task is None:
        return
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=grace_s)
    if not done:
        gone = getattr(client, "_disconnected", None)
        if isinstance(gone, asyncio.Future) and not gone.done():
            gone.set_result(None)
        done, _ = await asyncio.wait([task], timeout=1.0)
        if not done:
            log.warning("an MQTT link did not end within %.0f s; left behind", grace_s + 1)
            return
    try:
        task.result()
    except (asyncio.CancelledError, Exception):
        pass
