"""The provincial push's events, journaled with the hall's own (never through the pure core: they
record what the sender saw, not a decision). Projected into `province_outbox` and friends
(evaluator/province/outbox.py) in the transaction that journals them.

- `ProvinceAttempted`: one request to the platform and its outcome (the receipt, D7). `state` is the
  record's state after it: accepted | duplicate | rejected | retrying. `body` and `message` are
  already redacted of personal data (evaluator/province/redact.py); `digest` is the SHA-256 of the
  record's plaintext, so receipts show that a resend reused the same payload (D1).
- `ProvinceRepushed`: a supervisor sends a rejected (or not pushable, or conflicting) record again
  after a fix (D6).
- `ProvinceReconciled`: the daily reconciliation of one hall day and profile (D10), per window.
"""

from __future__ import annotations

from queued.core.events import Event, event


@event("province_attempted")
class ProvinceAttempted(Event):
    at: float
    outbox: int
    profile: str
    step: str  # rating | service
    attempt: int  # 1 for the first request of this record
    fails: int  # failures in a row (the backoff exponent); 0 after a delivery or a rejection
    started_at: float
    outcome: str  # accepted | duplicate | rejected | failed
    state: str  # accepted | duplicate | rejected | retrying
    next_at: float | None  # the retry's time (retrying only)
    http_status: int | None
    code: str
    message: str
    body: str
    digest: str
    maybe: bool  # the request may have reached the platform (timeout, reset after sending)


@event("province_repushed")
class ProvinceRepushed(Event):
    at: float
    profile: str
    rating_id: str
    by: str


@event("province_reconciled")
class ProvinceReconciled(Event):
    at: float
    day: str
    profile: str
    windows: list  # [{window, stored, delivered, pending, rejected, unpushable, excluded, missing, oldest_gap_at}]
    alert: bool  # a gap older than retry_max_s


__all__ = ["ProvinceAttempted", "ProvinceRepushed", "ProvinceReconciled"]
