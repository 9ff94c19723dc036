"""One sender per profile (D4): a single asyncio task that takes due outbox rows one at a time,
sends each and journals its receipt. It never touches the hot path: it reads through the journal's
read connection, and its receipts join the writer's group commits like any event.

Scheduling is per record (D6): a failure sets that record's `next_at` to now + backoff, where the
backoff is `retry_base_s` doubled per failure in a row, capped at `retry_max_s`, and drawn from
[½, 1] of that (jitter: records that failed together do not come back together). Retries go on
forever; a rejection is not retried until a supervisor re-pushes it. One record's failures never
hold back the others, except what must come first within its case (an earlier rating, and on
shandong its service record: D5).

The hall comes first: the pace is `max_rate` while the hall is quiet, and BUSY_RATE while its
journal takes more than BUSY_EVENTS_S events a second (a kiosk rush, a benchmark): each request
costs the daemon ~2 ms of CPU, so a backlog draining at 20 a second under full load cost durable
issue up to 12% and put a call that coincides with one ~1 ms later (bench_province.py); at one
every 2 s it is lost in the noise, the backlog still drains, and the platform has a day (D10).

The clock is the runtime's (injectable: tests move simulated time across a day-long outage and
call `wake()`); the task never sleeps longer than `poll_s` of real time, so a moved clock is seen.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from evaluator.province.events import ProvinceAttempted
from evaluator.province.records import CASE_COLUMNS
from evaluator.province.transport import Outcome

log = logging.getLogger("queued.province")

_CASE = ", ".join(f"c.{k} AS {k}" for k in CASE_COLUMNS)
# Due rows in time order. A row waits for every earlier row of its case that is not delivered
# (per-case order, D3; on shandong that includes its own service record, D5).
DUE_SQL = f"""
SELECT o.*, {_CASE} FROM province_outbox o LEFT JOIN cases c ON c.case_id = o.case_id
WHERE o.profile = :profile AND o.next_at IS NOT NULL AND o.next_at <= :now
  AND (o.hold_day IS NULL OR o.hold_day < :today)
  AND NOT EXISTS (SELECT 1 FROM province_outbox e WHERE e.case_id = o.case_id AND e.profile = o.profile
                  AND e.id < o.id AND e.state NOT IN ('accepted', 'duplicate', 'superseded', 'excluded'))
ORDER BY o.next_at, o.id LIMIT :limit
"""
NEXT_SQL = "SELECT MIN(next_at) AS t FROM province_outbox WHERE profile = ? AND next_at IS NOT NULL"
BUSY_EVENTS_S = 100.0  # a hall's own peak is a few events a second; past this it is under load
BUSY_RATE = 0.5  # requests a second while it is: still 43,000 a day


class Sender:
    def __init__(self, runtime, profile, settings, *, rng: random.Random | None = None, batch: int = 64):
        self.runtime = runtime
        self.profile = profile
        self.s = settings
        self.rng = rng or random.Random()
        self.batch = batch
        self.poll_s = 1.0  # the longest real sleep (tests with a simulated clock shorten it)
        self._next_send = 0.0  # monotonic time the next request may go (max_rate)
        self._load = (time.monotonic(), 0)  # (when, journal events written then): the hall's pace
        self.busy = False  # the hall is under load: sending at BUSY_RATE
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.in_flight: int | None = None  # the outbox id being sent (at most one: D4)
        self.sent = 0
        self.on_receipt = None  # callable(ProvinceAttempted) for metrics

    # ---- life ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"province-sender-{self.s.profile}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    def wake(self) -> None:
        """New rows, a re-push, or a moved clock: look again now."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # ---- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                sent = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a database hiccup must not end the sender
                log.exception("province sender round failed; trying again")
                sent = 0
            if not sent:
                await self._idle()

    async def _idle(self) -> None:
        delay = self.poll_s
        try:
            row = await self.runtime.journal.fetchone(NEXT_SQL, (self.s.profile,))
            if row is not None and row["t"] is not None:
                delay = min(self.poll_s, max(0.0, row["t"] - self.runtime.clock()))
        except Exception:
            log.debug("province: next due time unknown", exc_info=True)
        if delay > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
        else:
            await asyncio.sleep(0)

    async def round(self) -> int:
        """Send what is due now, one request at a time; returns how many were tried."""
        rt = self.runtime
        now = rt.clock()
        rows = await rt.journal.fetchall(DUE_SQL, {"profile": self.s.profile, "now": now,
                                                   "today": rt.calendar.day(now), "limit": self.batch})
        commits = []
        tried = 0
        for row in rows:
            if self._stopping:
                break
            gap = self.gap()
            # Paced (`max_rate`): a backlog after an outage drains at a steady pace instead of
            # taking the CPU and the journal's writer from the hall (unpaced, a 3,000-record drain
            # cut durable issue to 43% and put call→LED p99 at 10.7 ms: bench_province.py).
            wait = self._next_send - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_send = max(self._next_send, time.monotonic() - gap) + gap
            row = dict(row)
            started = rt.clock()
            self.in_flight = row["id"]
            try:
                out = await self.profile.send(row)
            finally:
                self.in_flight = None
            receipt = self.receipt(row, out, started)
            commits.append(asyncio.ensure_future(rt.record([receipt])))
            if self.on_receipt is not None:
                self.on_receipt(receipt)
            tried += 1
            self.sent += 1
            if out.outcome == "rejected" or (out.outcome == "failed" and row["fails"] == 0):
                log.warning("province %s: record %s (%s %s #%s) %s: %s", self.s.profile, row["id"], row["step"],
                            row["project_no"], row["seq"], out.outcome, out.message)
        if commits:
            await asyncio.gather(*commits)  # the next round reads these receipts
        return tried

    def gap(self) -> float:
        """Seconds between requests: 1/max_rate, or 1/BUSY_RATE while the hall is under load."""
        now = time.monotonic()
        written = self.runtime.journal.events_written
        since, before = self._load
        if now - since >= 1.0:
            busy = (written - before) / (now - since) > BUSY_EVENTS_S
            if busy != self.busy:
                log.info("province %s: the hall is %s; pushing at %g a second", self.s.profile,
                         "under load" if busy else "quiet again", min(self.s.max_rate, BUSY_RATE) if busy
                         else self.s.max_rate)
            self.busy = busy
            self._load = (now, written)
        return 1.0 / (min(self.s.max_rate, BUSY_RATE) if self.busy else self.s.max_rate)

    def backoff(self, fails: int) -> float:
        base = min(self.s.retry_max_s, self.s.retry_base_s * (2 ** min(fails - 1, 60)))
        return base * (0.5 + 0.5 * self.rng.random())

    def receipt(self, row: dict, out: Outcome, started: float) -> ProvinceAttempted:
        now = self.runtime.clock()
        next_at = None
        if out.outcome == "failed":
            fails = row["fails"] + 1
            state, next_at = "retrying", now + self.backoff(fails)
        else:
            fails = 0
            state = out.outcome  # accepted | duplicate | rejected
        return ProvinceAttempted(now, row["id"], self.s.profile, row["step"], row["attempts"] + 1, fails, started,
                                 out.outcome, state, next_at, out.http_status, out.code[:100], out.message[:500],
                                 out.body, out.digest, out.maybe)
