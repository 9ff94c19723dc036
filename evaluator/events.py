"""The evaluator's events (好差评), journaled with the hall's own events.

They pass through `runtime.execute`, so a 201 or a pad's ACK follows their commit. Listeners
(`runtime.subscribe`) hear them after commit:

- `RatingRequested`: the pad of `window` should show the rating prompt for `case` (RATE_REQUEST,
  `timeout_s` = `[hall] rating_timeout_s`). Emitted right after each `TicketFinished` commits.
  Windows without a pad are timed out by the daemon (`RatingTimeout` after timeout_s).
- `RatingRecorded`: a citizen's rating was accepted (the pad shows its thanks). `replaced` is
  "unrated" or "defaulted" when it replaced a time-out's record, else None. `rating_id` is a UUID
  made by the adapter (passed in the command: the book is pure), the key a province receives it
  under; `project_no` the 办件编号 of the case (None for a ticket's implicit case).
- `RatingTimedOut`: nobody rated in time. `level` is None (unrated) or `[hall] unrated_default`
  (then it is a 系统默认评价, channel "default").
- `SecondRatingRecorded`: the citizen's judgement of a rectification (二次评价), from the link
  sent after a 差评 was rectified; a record of its own, never an overwrite of the first rating.
- `RatingRefused`: a rating that was refused because the case already had one (一次一评:
  refused and counted). `case` may be None when only the ticket is known.

Levels: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意 (2 and 1 are 差评).
Reasons: bit i set = reason i+1 of `[hall] reasons`.
"""

from __future__ import annotations

from queued.core.events import Event, event

LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
CHANNELS = ("pad", "qr", "web", "wechat", "default")
SECOND_CHANNELS = ("sms", "wechat")  # how the 二次评价 link reached the citizen


def is_bad(level: int | None) -> bool:
    """差评: levels 1 and 2."""
    return level is not None and level <= 2


@event("rating_requested")
class RatingRequested(Event):
    at: float
    case: int
    ticket: str
    window: str
    clerk: str | None
    timeout_s: int


@event("rating_recorded")
class RatingRecorded(Event):
    at: float
    case: int
    ticket: str
    level: int  # 1..5
    reasons: int  # bitmask
    comment: str
    channel: str  # pad | qr | web | wechat
    window: str
    clerk: str | None
    business: str
    day: str  # the case's hall day (when it was served)
    no_reason: bool = False  # a 差评 with no reason given
    replaced: str | None = None  # "unrated" | "defaulted" when a time-out's record was replaced
    rating_id: str = ""  # UUID from the adapter ("" only in journals older than issue 11)
    project_no: str | None = None  # 办件编号; None for a ticket's implicit case


@event("rating_timed_out")
class RatingTimedOut(Event):
    at: float
    case: int
    ticket: str
    window: str
    clerk: str | None
    business: str
    day: str
    level: int | None = None  # None: unrated; else the 系统默认评价 level (config unrated_default)
    source: str = "timer"  # pad (its RATE_TIMEOUT) | timer (the daemon, for windows without a pad)
    rating_id: str = ""  # UUID from the adapter: a 系统默认评价 is a record a province may take
    project_no: str | None = None


@event("second_rating_recorded")
class SecondRatingRecorded(Event):
    at: float
    rating_id: str  # UUID from the adapter
    case: int
    ticket: str
    level: int  # 1..5
    reasons: int  # bitmask, as a first rating's
    comment: str
    channel: str  # sms | wechat: how the link reached the citizen
    window: str
    clerk: str | None
    business: str
    day: str  # the case's hall day (when it was served)
    project_no: str | None = None


@event("rating_refused")
class RatingRefused(Event):
    at: float
    case: int | None
    ticket: str | None
    channel: str
    reason: str = "already_rated"


__all__ = [
    "LEVEL_NAMES",
    "CHANNELS",
    "is_bad",
    "RatingRequested",
    "RatingRecorded",
    "RatingTimedOut",
    "RatingRefused",
    "SecondRatingRecorded",
    "SECOND_CHANNELS",
]
