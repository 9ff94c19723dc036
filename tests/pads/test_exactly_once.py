"""A daemon that dies between the commit of a pad event and its ACK does not count it twice."""

from __future__ import annotations

import asyncio

from firmware_bridge.frames import KeyCode
from tests.pads.support import wait_until
from tests.pads.test_ratings import reviews, serve_one


async def die_after_commit(hall):
    """The next pad event is committed, then the daemon stops before the ACK can go out."""
    poller = hall.adapter.pollers[hall.path]
    handle = poller.on_event
    committed = asyncio.Event()

    async def commit_then_hang(addr, event):
        await handle(addr, event)
        committed.set()
        await asyncio.Event().wait()  # never returns: the POLL with the ACK is never sent

    poller.on_event = commit_then_hang
    return committed


async def processed_rows(hall) -> list:
    return await hall.daemon.runtime.journal.fetchall(
        "SELECT data FROM events WHERE kind='pad_event_processed' ORDER BY seq")


async def test_key_committed_but_not_acknowledged_is_not_applied_again_after_restart(signed_in):
    hall = signed_in
    pad = hall.pad4
    await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001")
    committed = await die_after_commit(hall)
    recall = pad.press(KeyCode.RECALL)
    await asyncio.wait_for(committed.wait(), 5)
    await hall.daemon.stop()
    assert pad.pending == 1 and pad.queued_events[0].evt == recall.evt  # the pad still holds it
    await hall.start_daemon()  # a new daemon on the same database
    await wait_until(lambda: pad.pending == 0, what="the pad's event acknowledged by the new daemon")
    w = await hall.window("4")
    assert (w["ticket"], w["recalls"]) == ("A001", 1)  # applied once, not twice
    rows = [r["data"] for r in await processed_rows(hall)]
    assert sum(f'"evt":{recall.evt},"type":"key"' in d for d in rows) == 1
    # The bus goes on: the next key is processed normally.
    pad.press(KeyCode.RECALL)
    await wait_until(lambda: pad.pending == 0)
    assert (await hall.window("4"))["recalls"] == 2


async def test_rating_committed_but_not_acknowledged_counts_once_after_restart(signed_in):
    hall = signed_in
    pad = hall.pad4
    case = await serve_one(hall)
    committed = await die_after_commit(hall)
    pad.rate(5)
    await asyncio.wait_for(committed.wait(), 5)
    await hall.daemon.stop()
    assert pad.pending == 1
    await hall.start_daemon()
    await wait_until(lambda: pad.pending == 0)
    row = (await reviews(hall))["4"]
    assert (row["served"], row["rated"], row["very_satisfied"]) == (1, 1, 1)
    # Processed once: no second attempt that the evaluator would have had to refuse.
    assert await hall.daemon.runtime.journal.fetchall("SELECT * FROM rating_refusals") == []
    review = (await hall.get(f"/api/v1/reviews/{case}", role="supervisor")).json()
    assert (review["level"], review["channel"]) == (5, "pad")
