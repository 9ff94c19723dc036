"""办结 opens a rating on the pad; the pad's rating lands in the reports once (一次一评)."""

from __future__ import annotations

from firmware_bridge.frames import KeyCode
from tests.pads.support import metric, wait_until


async def serve_one(hall) -> int:
    """Call and finish A001 at window 4 with the pad's keys; the case number the prompt names."""
    pad = hall.pad4
    await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001")
    pad.press(KeyCode.FINISH)
    await wait_until(lambda: pad.prompt is not None, what="RATE_REQUEST on the pad")
    return pad.prompt.case


async def reviews(hall) -> dict:
    r = await hall.get("/api/v1/reports/reviews?group_by=window", role="supervisor")
    assert r.status_code == 200, r.text
    return {row["key"]: row for row in r.json()["rows"]}


async def test_finish_opens_the_prompt_and_the_pads_rating_lands_in_the_report(signed_in):
    hall = signed_in
    pad = hall.pad4
    case = await serve_one(hall)
    assert pad.prompt.ticket == "A001"
    assert pad.prompt.deadline is not None  # rating_timeout_s = 30 reached the pad
    assert any("请为 A001 评价" in line for line in pad.citizen_screen())
    pad.rate(2, reasons=0b101)  # 不满意: reasons 1 and 3
    await wait_until(lambda: pad.pending == 0, what="the rating acknowledged")
    row = (await reviews(hall))["4"]
    assert (row["served"], row["rated"], row["bad"], row["dissatisfied"]) == (1, 1, 1, 1)
    r = await hall.get(f"/api/v1/reviews/{case}", role="supervisor")
    review = r.json()
    assert (review["channel"], review["level"], review["reasons"], review["clerk"]) == ("pad", 2, [1, 3], "1001")
    text = await hall.metrics()
    assert metric(text, "queued_pad_events_total", type="rating") == 1
    assert metric(text, "queued_ratings_total", level="2", channel="pad") == 1


async def test_rate_timeout_from_the_pad_records_the_case_unrated(signed_in):
    hall = signed_in
    pad = hall.pad4
    case = await serve_one(hall)
    pad.time_out_rating()
    await wait_until(lambda: pad.pending == 0)
    review = (await hall.get(f"/api/v1/reviews/{case}", role="supervisor")).json()
    assert (review["state"], review["level"], review["channel"]) == ("unrated", None, "pad")


async def test_rated_by_qr_while_the_prompt_is_open_cancels_it(signed_in):
    hall = signed_in
    pad = hall.pad4
    await serve_one(hall)
    t = hall.daemon.runtime.engine.by_number["A001"]
    r = await hall.client.post("/api/v1/ratings", json={"ticket": t.id, "key": t.rating_key, "level": 5})
    assert r.status_code == 201
    await wait_until(lambda: pad.prompt is None, what="RATE_CANCEL on the pad")
    assert (await reviews(hall))["4"]["very_satisfied"] == 1


async def test_second_rating_of_a_case_is_refused_counted_and_acknowledged(signed_in):
    hall = signed_in
    pad = hall.pad4
    case = await serve_one(hall)
    # The citizen rates on the pad while the QR rating lands and the RATE_CANCEL cannot get through.
    pad.busy = True
    t = hall.daemon.runtime.engine.by_number["A001"]
    r = await hall.client.post("/api/v1/ratings", json={"ticket": t.id, "key": t.rating_key, "level": 4})
    assert r.status_code == 201
    await wait_until(lambda: hall.daemon.adapter("PadAdapter").pollers[hall.path].stats.naks[3] >= 3)
    assert pad.prompt is not None
    pad.rate(1)
    await wait_until(lambda: pad.pending == 0, what="the refused rating still acknowledged")
    review = (await hall.get(f"/api/v1/reviews/{case}", role="supervisor")).json()
    assert (review["level"], review["channel"]) == (4, "qr")  # the first rating stands
    text = await hall.metrics()
    assert metric(text, "queued_pad_refused_total", type="rating", reason="already_rated") == 1
    assert metric(text, "queued_rating_refusals_total", channel="pad") == 1
    rows = await hall.daemon.runtime.journal.fetchall("SELECT channel, reason FROM rating_refusals")
    assert [tuple(r) for r in rows] == [("pad", "already_rated")]
    # A retry of the same QR rating is refused too.
    r = await hall.client.post("/api/v1/ratings", json={"ticket": t.id, "key": t.rating_key, "level": 5})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_rated")


async def finish_while_offline(hall) -> int:
    """A001 called at window 4, its pad goes silent, the clerk finishes it over HTTP."""
    pad = hall.pad4
    await hall.issue("A")
    pad.press(KeyCode.CALL_NEXT)
    await wait_until(lambda: pad.ticket == "A001")
    hall.emulator.set_silent(4)
    await wait_until(lambda: not hall.adapter.is_online("4"))
    r = await hall.post("/api/v1/windows/4/finish")
    assert r.status_code == 200
    case = r.json()["finished"]["case"]
    book = hall.daemon.adapter("EvaluatorAdapter").book
    await wait_until(lambda: case in book.prompts, what="the prompt opened (journaled) while the pad is away")
    return case


async def test_a_case_finished_while_the_pad_is_offline_is_prompted_when_it_returns(signed_in, clock):
    hall = signed_in
    pad = hall.pad4
    case = await finish_while_offline(hall)
    clock.advance(12)  # the pad is away for 12 s of the prompt's 30
    assert pad.prompt is None
    hall.emulator.set_silent(4, False)
    await wait_until(lambda: pad.prompt is not None, what="the open prompt sent to the returning pad")
    assert pad.prompt.case == case and pad.prompt.ticket == "A001"
    assert 17 <= pad.prompt.deadline - pad.clock() <= 18  # with the time it has left, not a fresh 30 s
    pad.rate(4)
    await wait_until(lambda: pad.pending == 0)
    review = (await hall.get(f"/api/v1/reviews/{case}", role="supervisor")).json()
    assert (review["state"], review["level"], review["channel"]) == ("rated", 4, "pad")


async def test_a_prompt_whose_time_ran_out_while_the_pad_was_away_is_closed_by_the_timer(signed_in, clock):
    hall = signed_in
    pad = hall.pad4
    hall.daemon.adapter("EvaluatorAdapter").prompt_grace_s = -29.0  # the backstop 1 s after the request
    case = await finish_while_offline(hall)
    clock.advance(31)
    hall.emulator.set_silent(4, False)
    await wait_until(lambda: hall.adapter.is_online("4"))

    async def unrated():
        review = (await hall.get(f"/api/v1/reviews/{case}", role="supervisor")).json()
        return review["state"] == "unrated" and review["channel"] == "timer"

    await wait_until(unrated, what="the daemon's time-out of a prompt nobody could see")
    assert pad.prompt is None  # never shown: its time had run out


async def test_a_rating_given_while_the_daemon_was_down_leaves_no_prompt_behind(signed_in):
    """The restarted daemon sends the still-open prompt as the pad comes online, while the pad's
    queued RATING for it is yet to be heard: once it is, the pad must not go on asking."""
    import asyncio

    hall = signed_in
    pad = hall.pad4
    case = await serve_one(hall)
    await hall.daemon.stop()
    pad.rate(4)  # the citizen rates while the host is down: the event waits on the pad
    await hall.start_daemon()
    await wait_until(lambda: pad.pending == 0, what="the queued rating heard")
    review = (await hall.get(f"/api/v1/reviews/{case}", role="supervisor")).json()
    assert (review["state"], review["level"], review["channel"]) == ("rated", 4, "pad")
    await asyncio.sleep(0.5)  # a prompt sent again at the start has reached the pad by now
    assert pad.prompt is None
    assert await hall.daemon.runtime.journal.fetchall("SELECT * FROM rating_refusals") == []
