"""The evaluator adapter: the rating book in the runtime, rating time-outs, and the HTTP routes.

- Adds `RatingBook` to the runtime in the constructor (before start, so replay feeds it).
- After each TicketFinished commits it sends `RequestRating` (→ RatingRequested for the ticket's
  first case: pads show the prompt; the book opens the next case's prompt when one closes).
- Every open prompt has a timer here: for windows without a pad (not in config.pads)
  `RatingTimeout` after `rating_timeout_s` (`timeout_delay`), since no pad will send RATE_TIMEOUT
  for them; for a pad's window a backstop `prompt_grace_s` after the pad's own time-out (a pad
  that never got the prompt, or went away). On start the timers of the prompts still open are set
  again for the time they have left, and a finished ticket whose prompt was never opened (a crash
  between the two commits) gets it then.
- `rate(cmd)`: the one way to rate (HTTP here, pads via the bridge): it gives the rating its UUID
  (`rating_id`); on a duplicate it journals the refusal (RatingRefused: `rating_refusals`, metric)
  and raises AlreadyRated.
- Routes: POST /api/v1/ratings (public), GET /api/v1/reviews/{case}, GET /api/v1/reports/reviews,
  /queues, /national (supervisor or admin).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence

from prometheus_client import Counter

from evaluator import events as ev
from evaluator import projection  # noqa: F401  (registers schema and projections)
from evaluator.book import RatingBook, holder_channel
from evaluator.commands import Rate, RatingTimeout, RefuseDuplicate, RequestRating
from evaluator.errors import AlreadyRated, NotServed, RatingClosed, UnknownCase
from queued.core import events as e

log = logging.getLogger("queued.evaluator")

PROMPT_GRACE_S = 15.0  # a pad's prompt is closed by the daemon this long after the pad's own time-out


def new_rating_id() -> str:
    return str(uuid.uuid4())


class EvaluatorAdapter:
    def __init__(self, daemon):
        from evaluator import case_routes, routes  # the web layer; the pure parts never need Starlette

        self.daemon = daemon
        self.runtime = rt = daemon.runtime
        self.config = cfg = daemon.config
        self.book = RatingBook(rt.calendar, reasons=len(cfg.hall.reasons), timeout_s=cfg.rating_timeout_s,
                               unrated_default=cfg.unrated_default, window_days=cfg.rating_window_days)
        rt.add_component(self.book)
        self.padded = {p.window for p in cfg.pads}
        self.timeout_delay: float = float(cfg.rating_timeout_s)  # tests shorten it
        self.prompt_grace_s = PROMPT_GRACE_S
        r = daemon.metrics.registry
        self.ratings_total = Counter("queued_ratings", "Ratings recorded (level none: unrated time-out)",
                                     ["level", "channel"], registry=r)
        self.refusals_total = Counter("queued_rating_refusals", "Duplicate ratings refused (一次一评)",
                                      ["channel"], registry=r)
        self.routes = [*routes.make_routes(self), *case_routes.make_routes(self)]
        rt.subscribe(self._on_events)

    async def start(self) -> None:
        """Pick up what a restart interrupted: prompts never opened, time-outs never fired."""
        now = self.runtime.clock()
        today = self.runtime.calendar.day(now)
        book = self.book
        self._close_earlier_days(today)
        for c in book.open_prompts():
            if c.day == today:
                self._arm(c, now)
        asked: set[str] = set()
        for c in list(book.cases.values()):
            if c.state != "open" or c.case in book.prompts or c.day < today:
                continue
            if c.requested_at is None and c.ticket not in asked:
                asked.add(c.ticket)
                self.runtime.submit(RequestRating(c.ticket))

    def _close_earlier_days(self, today: str) -> None:
        """A prompt does not outlive its day (the citizen has gone home): an earlier day's open
        case is closed by its time-out now, at start and when a day starts, not by a timer that
        may be hours away on a clock that jumped. A real rating may still replace it (book)."""
        for c in list(self.book.cases.values()):
            if c.state == "open" and c.day < today:
                self.runtime.schedule(0.0, RatingTimeout(c.case, rating_id=new_rating_id()))

    def _arm(self, c, now: float) -> None:
        """The timer that closes an open prompt: the window's time-out, or a pad's backstop."""
        padded = c.window in self.padded
        delay = (c.timeout_s + self.prompt_grace_s) if padded else self.timeout_delay
        due = (c.requested_at or now) + delay - now
        self.runtime.schedule(max(0.0, due), RatingTimeout(c.case, rating_id=new_rating_id()))

    async def stop(self) -> None:
        pass

    # ---- rating ------------------------------------------------------------------------------

    async def rate(self, cmd: Rate) -> ev.RatingRecorded:
        """Rate a case; the returned event is durable. Raises an EvaluatorError, nothing changed
        (except the journaled refusal of a duplicate)."""
        if not cmd.rating_id:
            cmd = dataclasses.replace(cmd, rating_id=new_rating_id())
        try:
            events, _ = await self.runtime.execute(cmd)
        except AlreadyRated as exc:
            await self._refuse(cmd, channel=getattr(exc, "channel", cmd.channel))
            raise
        except UnknownCase:
            await self._older(cmd)
            raise
        return next(x for x in events if isinstance(x, ev.RatingRecorded))

    async def _refuse(self, cmd: Rate, case: int | None = None, channel: str | None = None) -> None:
        channel = channel or cmd.channel or "qr"
        events, _ = await self.runtime.execute(RefuseDuplicate(cmd.case if case is None else case, cmd.ticket,
                                                            channel))
        if not events:  # journaled once already for this case and channel; still counted
            self.refusals_total.labels(channel).inc()

    async def _older(self, cmd: Rate) -> None:
        """Not in the book: a case past the rating window, or a ticket of an earlier day never served.
        A holder's rating proves the holder first: a stranger learns nothing about the case."""
        j = self.runtime.journal
        if cmd.ticket is not None:
            row = await j.fetchone("SELECT case_id, state FROM cases WHERE ticket=?"
                                   " ORDER BY state = 'rated', case_id LIMIT 1", (cmd.ticket,))
            t = await j.fetchone("SELECT rating_key, openid FROM tickets WHERE id=?", (cmd.ticket,))
        else:
            row = await j.fetchone("SELECT case_id, state, ticket FROM cases WHERE case_id=?", (cmd.case,))
            if row is not None:
                t = await j.fetchone("SELECT rating_key, openid FROM tickets WHERE id=?", (row["ticket"],))
            else:
                t = await j.fetchone("SELECT rating_key, openid FROM tickets WHERE serial=?", (cmd.case,))
        if t is None:
            return  # no such ticket: UnknownCase stands
        channel = "pad" if cmd.channel == "pad" else holder_channel(t["rating_key"], t["openid"], cmd)
        if row is not None:
            if row["state"] == "rated":
                await self._refuse(cmd, row["case_id"], channel)
                raise AlreadyRated(f"该办件已评价，每件只能评价一次（case {row['case_id']} is already rated）")
            raise RatingClosed(f"办结超过 {self.book.window_days} 天，评价已关闭（rating closed for case {row['case_id']}）")
        raise NotServed("这张票未办结，不能评价（the ticket was never finished at a window）")

    # ---- after commit ------------------------------------------------------------------------

    def _on_events(self, events: Sequence[e.Event]) -> None:
        rt = self.runtime
        for x in events:
            kind = type(x)
            if kind is e.TicketFinished:
                rt.submit(RequestRating(x.ticket))
            elif kind is ev.RatingRequested:
                c = self.book.cases.get(x.case)
                if c is not None:
                    self._arm(c, rt.clock())
            elif kind is e.DayStarted:
                self._close_earlier_days(x.day)
            elif kind is ev.RatingRecorded:
                self.ratings_total.labels(str(x.level), x.channel).inc()
            elif kind is ev.RatingTimedOut:
                if x.level is None:
                    self.ratings_total.labels("none", x.source).inc()
                else:
                    self.ratings_total.labels(str(x.level), "default").inc()
            elif kind is ev.RatingRefused:
                self.refusals_total.labels(x.channel).inc()
