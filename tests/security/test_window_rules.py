"""Windows (http-api.md 1.1): signing in another clerk needs that clerk's PIN; an action and the
sign-in its token implies are one decision, refused as a whole; 特呼 only for the window's own
businesses or tickets sent to it (409 `not_this_window`, an engine rule on every path); every
refused action changes nothing."""

from __future__ import annotations

import pytest

from queued.core import commands as cmds
from queued.core.errors import CoreError
from tests.security.inputs_hall import bearer, client, fingerprint, full_hall
from tests.security.test_holder_rating import err


def window(d, w: str) -> tuple:
    ws = d.runtime.engine.windows[w]
    return ws.state, ws.clerk, ws.current.number if ws.current else None


async def test_signing_in_another_clerk_needs_their_pin(make_daemon):
    d = await full_hall(make_daemon)
    unnamed = bearer(d, "clerk", "3")  # a window token that names nobody
    named = bearer(d, "clerk", "1", "1001")
    async with client(d) as c:
        before = await fingerprint(d)
        err(await c.post("/api/v1/windows/3/sign-in", json={"clerk": "1001"}, headers=unnamed), 403, "forbidden")
        err(await c.post("/api/v1/windows/3/sign-in", json={"clerk": "1001", "pin": "0000"}, headers=unnamed),
            401, "unauthorized")
        err(await c.post("/api/v1/windows/1/sign-in", json={"clerk": "1002"}, headers=named), 403, "forbidden")
        err(await c.post("/api/v1/windows/3/sign-in", json={"clerk": "1001"}, headers=bearer(d, "admin")), 403,
            "forbidden")
        assert await fingerprint(d) == before and window(d, "3") == ("closed", None, None)
        r = await c.post("/api/v1/windows/3/sign-in", json={"clerk": "1001", "pin": "1001"}, headers=unnamed)
        assert r.status_code == 200 and r.json()["window"]["clerk"] == "1001", r.text
        # A token naming the clerk signs that clerk in without a PIN.
        r = await c.post("/api/v1/windows/1/sign-in", json={"clerk": "1001"}, headers=named)
        assert r.status_code == 200 and r.json()["window"]["clerk"] == "1001", r.text
        assert d.runtime.engine.windows["3"].clerk is None  # one window at a time


async def test_wrong_pins_at_the_window_api_are_locked_out_like_the_console(make_daemon):
    d = await full_hall(make_daemon)
    unnamed = bearer(d, "clerk", "3")
    async with client(d) as c:
        codes = []
        for n in range(12):
            r = await c.post("/api/v1/windows/3/sign-in", json={"clerk": "1002", "pin": f"9{n:03d}"}, headers=unnamed)
            codes.append(r.status_code)
        assert codes[0] == 401 and codes[-1] == 429, codes
        r = await c.post("/api/v1/windows/3/sign-in", json={"clerk": "1002", "pin": "1002"}, headers=unnamed)
        err(r, 429, "too_many_attempts")
    assert d.runtime.engine.windows["3"].clerk is None


async def test_a_refused_action_does_not_sign_the_tokens_clerk_in(make_daemon):
    d = await full_hall(make_daemon)
    named = bearer(d, "clerk", "1", "1001")
    async with client(d) as c:
        before = await fingerprint(d)
        err(await c.post("/api/v1/windows/1/call", json={"number": "ZZ999"}, headers=named), 404, "unknown_ticket")
        err(await c.post("/api/v1/windows/1/recall", headers=named), 409, "invalid_state")
        err(await c.post("/api/v1/windows/1/transfer", json={"business": "B"}, headers=named), 409, "invalid_state")
        err(await c.post("/api/v1/windows/1/finish", headers=named), 409, "invalid_state")
        assert await fingerprint(d) == before
        assert window(d, "1") == ("closed", None, None)
        # 1001 works at window 2 (signed in there with the PIN); a refused action at window 1 with
        # 1001's own token must not pull the clerk away from window 2.
        r = await c.post("/api/v1/windows/2/sign-in", json={"clerk": "1001", "pin": "1001"},
                         headers=bearer(d, "clerk", "2"))
        assert r.status_code == 200
        before = await fingerprint(d)
        err(await c.post("/api/v1/windows/1/call", json={"number": "ZZ999"}, headers=named), 404, "unknown_ticket")
        assert await fingerprint(d) == before
        assert window(d, "1") == ("closed", None, None) and window(d, "2") == ("idle", "1001", None)
        assert d.runtime.engine.clerk_at == {"1001": "2"}
        assert d.runtime.engine.open_windows == {"A": 1, "B": 1, "C": 0}
        # An action that fits does sign the clerk in, in the same decision.
        await c.post("/api/v1/tickets", json={"business": "A"}, headers=bearer(d, "kiosk"))
        r = await c.post("/api/v1/windows/1/call-next", headers=named)
        assert r.status_code == 200 and r.json()["ticket"]["number"] == "A001"
        assert window(d, "1") == ("calling", "1001", "A001") and d.runtime.engine.windows["2"].clerk is None
        rows = await d.runtime.journal.fetchall("SELECT kind FROM events ORDER BY seq DESC LIMIT 4")
        assert [r["kind"] for r in rows][::-1] == ["clerk_signed_out", "window_opened", "clerk_signed_in",
                                                    "ticket_called"]


async def test_special_call_only_for_the_windows_own_businesses_or_tickets_sent_to_it(make_daemon):
    d = await full_hall(make_daemon)
    kiosk, w1 = bearer(d, "kiosk"), bearer(d, "clerk", "1", "1001")
    w3 = bearer(d, "clerk", "3")
    async with client(d) as c:
        for business in ("C", "C", "A"):
            assert (await c.post("/api/v1/tickets", json={"business": business}, headers=kiosk)).status_code == 201
        before = await fingerprint(d)
        # Window 1 serves A and B: C001 is not its ticket, on the API ...
        err(await c.post("/api/v1/windows/1/call", json={"number": "C001"}, headers=w1), 409, "not_this_window")
        assert await fingerprint(d) == before and window(d, "1") == ("closed", None, None)
        # ... nor on any other path: the engine refuses it.
        with pytest.raises(CoreError) as info:
            await d.runtime.execute(cmds.CallNumber("1", number="C001"))
        assert info.value.code == "not_this_window"
        assert await fingerprint(d) == before
        # Its own business works; and a C ticket that window 3 sends to window 1 may be called there.
        r = await c.post("/api/v1/windows/1/call", json={"number": "A001"}, headers=w1)
        assert r.status_code == 200 and r.json()["ticket"]["number"] == "A001"
        assert (await c.post("/api/v1/windows/3/call", json={"number": "C002"}, headers=w3)).status_code == 200
        r = await c.post("/api/v1/windows/3/transfer", json={"window": "1"}, headers=w3)
        assert r.status_code == 200, r.text
        assert (await c.post("/api/v1/windows/1/finish", headers=w1)).status_code == 200
        r = await c.post("/api/v1/windows/1/call", json={"number": "C002"}, headers=w1)
        assert r.status_code == 200 and r.json()["ticket"]["number"] == "C002", r.text
        # A ticket this window skipped stays on its call-back list.
        assert (await c.post("/api/v1/windows/1/skip", headers=w1)).status_code == 200
        r = await c.post("/api/v1/windows/1/call", json={"number": "C002"}, headers=w1)
        assert r.status_code == 200, r.text
