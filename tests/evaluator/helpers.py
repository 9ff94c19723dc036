"""Driving the hall over HTTP as people do: take a number, call it at a window, finish it."""

from __future__ import annotations

import asyncio


class Served(str):
    """A served ticket's id that also carries the holder's rating key (`.key`), as the QR code does."""

    key: str


async def serve(api, tokens, business: str = "A", clerk: str = "clerk1", window: str = "1") -> Served:
    """Issue a ticket, call and finish it at `window`; returns the ticket id (with its rating key) once
    the rating prompt (RatingRequested, sent by the adapter after the finish commits) is journaled too."""
    r = await api.post("/api/v1/tickets", json={"business": business}, headers=tokens["kiosk"])
    assert r.status_code == 201, r.text
    ticket = Served(r.json()["id"])
    ticket.key = r.json()["rating_key"]
    r = await api.post(f"/api/v1/windows/{window}/call-next", headers=tokens[clerk])
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["id"] == ticket
    r = await api.post(f"/api/v1/windows/{window}/finish", headers=tokens[clerk])
    assert r.status_code == 200, r.text
    journal = api._transport.app.state.runtime.journal
    for _ in range(200):
        row = await journal.fetchone(
            "SELECT 1 FROM events WHERE kind='rating_requested' AND json_extract(data, '$.ticket')=?", (ticket,))
        if row is not None:
            return ticket
        await asyncio.sleep(0.01)
    raise AssertionError("no rating prompt was journaled after the finish")
