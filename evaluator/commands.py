"""Commands the rating book (`evaluator.book.RatingBook`) owns. Run them through the runtime:

    events, _ = await runtime.execute(Rate(case=123, level=5, channel="pad", window="3"))

so the reply (HTTP 201, the pad's ACK) follows the commit. A refused command raises an
`evaluator.errors.EvaluatorError` (a CoreError: the web layer maps its code) and changes nothing.

For ratings prefer `EvaluatorAdapter.rate(cmd)` (`daemon.adapter("EvaluatorAdapter")`): it does the
same and, when the case is already rated, also journals the refusal (RatingRefused, counted in
`rating_refusals` and the metric) before raising `AlreadyRated`; it also tells a ticket of an
earlier day that was never served (`not_served`) from one that does not exist (`unknown_ticket`).

Pads (firmware_bridge wiring):
- RATING (CASE, LEVEL, REASONS)  → `await evaluator.rate(Rate(case=CASE, level=LEVEL, reasons=REASONS,
  channel="pad", window=<the pad's window>, rating_id=<uuid4>))`; ACK the pad whatever the outcome
  (a refusal is final, a retry would be refused again).
- RATE_TIMEOUT (CASE)           → `await runtime.execute(RatingTimeout(CASE, source="pad", rating_id=<uuid4>))`.
- Listen for `RatingRequested` (evaluator.events) to send RATE_REQUEST to the window's pad, and
  on start and whenever a pad comes (back) online send every prompt of its window still open
  (`RatingBook.open_prompts`) with the time left.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Rate:
    """A citizen's rating of one served case, named by `case` (the serial) or by `ticket` (its id).

    level: 1..5 (5 非常满意 … 1 非常不满意); reasons: bitmask, bit i = reason i+1 of the hall's list.
    channel "pad": the window's pad (`window`, when given, must be the case's window). Any other
    rating is the holder's: it must carry `key` (the ticket's rating_key, from its QR code) or
    `openid` (set only from a verified WeChat session, never from a body), and the recorded channel
    is what proved it: "qr" for the key, "wechat" for the session (http-api.md 1.1, Ratings).
    """

    level: int
    case: int | None = None
    ticket: str | None = None
    reasons: int = 0
    comment: str = ""
    channel: str | None = None  # "pad", or None: the holder's proof decides
    window: str | None = None
    rating_id: str = ""  # a UUID the adapter makes (EvaluatorAdapter.rate fills it in when empty)
    key: str | None = None
    openid: str | None = None


@dataclass(slots=True, frozen=True)
class RequestRating:
    """Open the next rating prompt of a finished ticket (→ RatingRequested for its first case not
    rated and not asked yet; nothing while one of its prompts is open). The adapter sends it after
    each TicketFinished commits; the prompts of a ticket's further 办件 follow one another by
    themselves (the book opens the next when one is rated or times out)."""

    ticket: str


@dataclass(slots=True, frozen=True)
class RatingTimeout:
    """Nobody rated in time: records the case unrated, or as `unrated_default` (系统默认评价).
    No events (and no error) when the case is already rated or timed out. source: pad | timer."""

    case: int
    source: str = "timer"
    rating_id: str = ""  # a UUID the adapter makes: a 系统默认评价 is a record too


@dataclass(slots=True, frozen=True)
class RefuseDuplicate:
    """Journal a refused duplicate rating (RatingRefused): 一次一评, refused and counted."""

    case: int | None
    ticket: str | None
    channel: str
    reason: str = "already_rated"


__all__ = ["Rate", "RequestRating", "RatingTimeout", "RefuseDuplicate"]
