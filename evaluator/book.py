"""The rating book: 一事一评 as a pure state machine (a runtime component, like the engine).

It owns `Rate`, `RequestRating`, `RatingTimeout` and `RefuseDuplicate`, and is fed every journaled
event: `TicketIssued` (the holder's proof, and so a rating of a ticket not yet served is told apart:
`not_served`),
`CaseBound` (a 办件 bound to a ticket being served), `TicketFinished` (opens the ticket's cases:
one per bound 办件, or the ticket's implicit case when none was bound), its own rating events,
`DayStarted` (forgets what is too old).

Rules (see also evaluator/events.py):
- Only the holder rates (http-api.md 1.1): a rating other than the pad's must carry the ticket's
  rating key or the WeChat session of its openid, checked before anything about the case is told
  (NotHolder), and its channel is what proved it: "qr" for the key, "wechat" for the session.
- A case takes at most one citizen rating, whatever the channel (pad, qr, web, wechat).
  A second one raises AlreadyRated (the adapter journals the refusal: RatingRefused).
- A rating names its case, or only its ticket: then the ticket's first case not rated yet.
- A rating is taken until the end of hall day `case day + rating_window_days`; later: RatingClosed.
- A time-out is not a rating: the pad gave up, the citizen did not. After `RatingTimeout` the case
  is "unrated" (or "defaulted" at `unrated_default`, 系统默认评价), and a real rating that comes
  later within the window replaces that record (`RatingRecorded.replaced`). A time-out after a
  rating, or a second time-out, changes nothing.
- Prompts (RatingRequested) are state: a prompt is open from its request until its case is rated
  (anywhere) or times out, and `open_prompts()` lists them with their request time, so the pads
  can show them again after a restart or when a pad comes back. The prompts of one ticket follow
  one another: when an open prompt's case is rated or times out, the same decision opens the
  prompt of the ticket's next case that is neither rated nor asked yet.
- Old cases are not replayed from the journal (replay reads today's events only): `prepare` loads
  the cases of the last `rating_window_days` days from the `cases` table, so QR ratings of earlier
  days work after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from evaluator import events as ev
from evaluator.commands import Rate, RatingTimeout, RefuseDuplicate, RequestRating
from evaluator.errors import (
    AlreadyRated,
    InvalidRating,
    NotHolder,
    NotServed,
    RatingClosed,
    UnknownCase,
    WrongWindow,
)
from queued.core import events as e
from queued.core.calendar import HallCalendar
from queued.core.tickets import holder_proof

RATE_CHANNELS = ("pad", "qr", "web", "wechat")
PROOF_CHANNELS = {"key": "qr", "session": "wechat"}
MAX_COMMENT = 500


def holder_channel(ticket_key: str | None, ticket_openid: str | None, cmd: Rate) -> str:
    """The channel a holder's rating is recorded under, or NotHolder when `cmd` proves nothing."""
    proof = holder_proof(ticket_key, ticket_openid, cmd.key, cmd.openid)
    if proof is None:
        raise NotHolder("只有取号人可以评价：请扫描号票上的二维码，或用取号的微信评价"
                        "（only the holder rates: the ticket's QR code or the WeChat account that took it）")
    return PROOF_CHANNELS[proof]


@dataclass(slots=True)
class Case:
    case: int
    ticket: str
    day: str
    business: str
    window: str
    clerk: str | None
    finished_at: float
    state: str = "open"  # open | rated | unrated | defaulted
    level: int | None = None
    requested_at: float | None = None  # when its prompt opened (RatingRequested)
    timeout_s: int = 0  # the prompt's TIMEOUT_S
    project_no: str | None = None  # 办件编号; None for a ticket's implicit case

    def time_left(self, now: float) -> float:
        """Seconds the open prompt still has (0 when it has run out or was never opened)."""
        if self.requested_at is None:
            return 0.0
        return max(0.0, self.requested_at + self.timeout_s - now)


def _ordinal(day: str) -> int:
    return date.fromisoformat(day).toordinal()


class RatingBook:
    commands = (Rate, RequestRating, RatingTimeout, RefuseDuplicate)

    def __init__(self, calendar: HallCalendar, reasons: int = 6, timeout_s: int = 30,
                 unrated_default: int | None = None, window_days: int = 7):
        self.calendar = calendar
        self.reason_count = reasons
        self.timeout_s = timeout_s
        self.unrated_default = unrated_default
        self.window_days = window_days
        self.cases: dict[int, Case] = {}
        self.by_ticket: dict[str, list[int]] = {}  # ticket → its cases, in binding order
        self.bound: dict[str, list[tuple[int, str]]] = {}  # ticket not finished yet → (case, project_no)
        self.prompts: dict[int, Case] = {}  # open prompts: requested, neither rated nor timed out
        # (case, ticket, channel) whose duplicate rating is journaled already: a holder looping
        # duplicates must not grow the journal without bound, so each is journaled once (the
        # service still counts every attempt in its metric).
        self.refused: set[tuple[int | None, str | None, str]] = set()
        # ticket → (rating_key, openid): the holder's proof, for today's tickets and the open cases'.
        # A ticket here but without cases was issued and never served (`not_served`).
        self.holders: dict[str, tuple[str | None, str | None]] = {}
        self._execute = {
            Rate: self._rate,
            RequestRating: self._request,
            RatingTimeout: self._timeout,
            RefuseDuplicate: self._refuse,
        }

    # ---- start-up ----------------------------------------------------------------------------

    async def prepare(self, journal, day: str) -> None:
        """Load the still-rateable cases of earlier days (today's come back by replay)."""
        first = date.fromordinal(_ordinal(day) - self.window_days).isoformat()
        rows = await journal.fetchall(
            "SELECT c.case_id, c.ticket, c.day, c.business, c.window, c.clerk, c.finished_at, c.state, c.level,"
            " c.project_no, t.rating_key, t.openid FROM cases c LEFT JOIN tickets t ON t.id = c.ticket"
            " WHERE c.day >= ? AND c.day < ? ORDER BY c.case_id", (first, day))
        for r in rows:
            self.holders[r["ticket"]] = (r["rating_key"], r["openid"])
            self._open(Case(r["case_id"], r["ticket"], r["day"], r["business"], r["window"], r["clerk"],
                            r["finished_at"], r["state"], r["level"], project_no=r["project_no"]))

    # ---- decisions ---------------------------------------------------------------------------

    def execute(self, cmd, now: float) -> list[e.Event]:
        out = self._execute[type(cmd)](cmd, now)
        for x in out:
            self.apply(x)
        return out

    def find(self, case: int | None = None, ticket: str | None = None) -> Case:
        """The case named by its id, or the first case of `ticket` not rated yet (its first case when
        all are rated); NotServed / UnknownCase when there is none."""
        if case is not None:
            found = self.cases.get(case)
            if found is None:
                raise UnknownCase(f"没有办件 {case}（no served case {case}）")
            if ticket is not None and found.ticket != ticket:
                raise InvalidRating("办件号与票号不符（case and ticket do not match）")
            return found
        if ticket is None:
            raise InvalidRating("需要票号或办件号（give a ticket or a case）")
        ids = self.by_ticket.get(ticket)
        if not ids:
            if ticket in self.holders:
                raise NotServed("这张票尚未办结，办结后才能评价（the ticket was never finished at a window）")
            raise UnknownCase(f"没有这张票（no ticket {ticket!r}）")
        cases = [self.cases[i] for i in ids]
        return next((c for c in cases if c.state != "rated"), cases[0])

    def ticket_cases(self, ticket: str) -> list[Case]:
        """The ticket's cases in binding order (empty before it is finished)."""
        return [self.cases[i] for i in self.by_ticket.get(ticket, ())]

    def open_prompts(self, window: str | None = None) -> list[Case]:
        """Prompts still open (of one window), oldest first: what a pad must show again."""
        out = [c for c in self.prompts.values() if window is None or c.window == window]
        out.sort(key=lambda c: (c.requested_at or 0.0, c.case))
        return out

    def rateable(self, c: Case, now: float) -> bool:
        return _ordinal(self.calendar.day(now)) - _ordinal(c.day) <= self.window_days

    def _rate(self, cmd: Rate, now: float) -> list[e.Event]:
        level, reasons = cmd.level, cmd.reasons
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise InvalidRating(f"评价等级须为 1..5（level must be 1..5, got {level!r}）")
        if not isinstance(reasons, int) or isinstance(reasons, bool) or not 0 <= reasons < (1 << self.reason_count):
            raise InvalidRating(f"差评原因超出本厅的 {self.reason_count} 项（reasons bitmask {reasons!r} out of range）")
        if cmd.channel is not None and cmd.channel not in RATE_CHANNELS:
            raise InvalidRating(f"评价渠道须为 {'、'.join(RATE_CHANNELS)}（unknown channel {cmd.channel!r}）")
        comment = cmd.comment or ""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise InvalidRating(f"评价内容不超过 {MAX_COMMENT} 字（comment longer than {MAX_COMMENT} characters）")
        if not cmd.rating_id:
            raise InvalidRating("缺少评价编号（rating_id is required: the adapter makes one per rating）")
        channel = "pad" if cmd.channel == "pad" else self._holder_channel(cmd)
        c = self.find(cmd.case, cmd.ticket)
        if cmd.window is not None and cmd.window != c.window:
            raise WrongWindow(f"办件 {c.case} 在{c.window}号窗口办理，不是{cmd.window}号（case served at another window）")
        if c.state == "rated":
            refused = AlreadyRated(f"该办件已评价，每件只能评价一次（case {c.case} is already rated）")
            refused.channel = channel  # the refusal is journaled under the channel that tried
            raise refused
        if not self.rateable(c, now):
            raise RatingClosed(f"办结超过 {self.window_days} 天，评价已关闭（rating closed for case {c.case}）")
        replaced = c.state if c.state in ("unrated", "defaulted") else None
        out: list[e.Event] = [
            ev.RatingRecorded(now, c.case, c.ticket, level, reasons, comment.strip(), channel, c.window,
                              c.clerk, c.business, c.day, ev.is_bad(level) and reasons == 0, replaced,
                              cmd.rating_id, c.project_no)]
        self._chain(c, now, out)
        return out

    def _holder_channel(self, cmd: Rate) -> str:
        """A holder's rating: proven before anything about the ticket or its cases is told."""
        ticket = cmd.ticket
        if ticket is None and cmd.case is not None:
            found = self.cases.get(cmd.case)
            ticket = found.ticket if found is not None else None
        holder = self.holders.get(ticket) if ticket is not None else None
        if holder is None:
            raise UnknownCase(f"没有这张票（no ticket {ticket!r}）" if ticket else
                              f"没有办件 {cmd.case}（no served case {cmd.case}）")
        return holder_channel(holder[0], holder[1], cmd)

    def _next_prompt(self, ticket: str, now: float, closing: Case | None = None) -> ev.RatingRequested | None:
        """The prompt of the ticket's next case, unless one of its prompts stays open."""
        candidate = None
        for c in self.ticket_cases(ticket):
            if c is closing:
                continue
            if c.case in self.prompts:
                return None
            if candidate is None and c.state == "open" and c.requested_at is None:
                candidate = c
        if candidate is None:
            return None
        return ev.RatingRequested(now, candidate.case, candidate.ticket, candidate.window, candidate.clerk,
                                  self.timeout_s)

    def _chain(self, closing: Case, now: float, out: list[e.Event]) -> None:
        """一事一评: the prompt of `closing` ends (rated or timed out): open the ticket's next one."""
        if closing.case in self.prompts:
            nxt = self._next_prompt(closing.ticket, now, closing)
            if nxt is not None:
                out.append(nxt)

    def _request(self, cmd: RequestRating, now: float) -> list[e.Event]:
        if cmd.ticket not in self.by_ticket:
            raise UnknownCase(f"没有已办结的票 {cmd.ticket!r}（no finished ticket {cmd.ticket!r}）")
        nxt = self._next_prompt(cmd.ticket, now)
        return [] if nxt is None else [nxt]  # nothing: all rated or asked already, or one still open

    def _timeout(self, cmd: RatingTimeout, now: float) -> list[e.Event]:
        c = self.cases.get(cmd.case)
        if c is None:
            raise UnknownCase(f"没有办件 {cmd.case}（no served case {cmd.case}）")
        if c.state != "open":
            return []
        out: list[e.Event] = [
            ev.RatingTimedOut(now, c.case, c.ticket, c.window, c.clerk, c.business, c.day, self.unrated_default,
                              cmd.source, cmd.rating_id, c.project_no)]
        self._chain(c, now, out)
        return out

    def _refuse(self, cmd: RefuseDuplicate, now: float) -> list[e.Event]:
        if (cmd.case, cmd.ticket, cmd.channel) in self.refused:
            return []
        return [ev.RatingRefused(now, cmd.case, cmd.ticket, cmd.channel, cmd.reason)]

    # ---- apply -------------------------------------------------------------------------------

    def _open(self, c: Case) -> None:
        if c.case in self.cases:
            return
        self.cases[c.case] = c
        self.by_ticket.setdefault(c.ticket, []).append(c.case)

    def apply(self, x: e.Event) -> None:
        kind = type(x)
        if kind is e.TicketIssued:
            self.holders[x.ticket] = (x.rating_key, x.openid)
        elif kind is e.CaseBound:
            self.bound.setdefault(x.ticket, []).append((x.case, x.project_no))
        elif kind is e.TicketFinished:
            day = self.calendar.day(x.at)
            for case, project_no in self.bound.pop(x.ticket, None) or [(x.case, None)]:
                self._open(Case(case, x.ticket, day, x.business, x.window, x.clerk, x.at, project_no=project_no))
        elif kind is ev.RatingRequested:
            c = self.cases.get(x.case)
            if c is not None:
                c.requested_at, c.timeout_s = x.at, x.timeout_s
                if c.state == "open":
                    self.prompts[c.case] = c
        elif kind is ev.RatingRecorded:
            c = self.cases.get(x.case)
            if c is not None:
                c.state, c.level = "rated", x.level
                self.prompts.pop(c.case, None)
        elif kind is ev.RatingTimedOut:
            c = self.cases.get(x.case)
            if c is not None and c.state == "open":
                c.state = "unrated" if x.level is None else "defaulted"
                c.level = x.level
                self.prompts.pop(c.case, None)
        elif kind is ev.RatingRefused:
            self.refused.add((x.case, x.ticket, x.channel))
        elif kind is e.DayStarted:
            self.refused = {k for k in self.refused if k[0] in self.cases}
            self.bound.clear()  # tickets not finished by the day's end were closed with it
            first = _ordinal(x.day) - self.window_days
            for c in [c for c in self.cases.values() if _ordinal(c.day) < first]:
                del self.cases[c.case]
                self.prompts.pop(c.case, None)
                ids = self.by_ticket.get(c.ticket)
                if ids is not None:
                    ids.remove(c.case)
                    if not ids:
                        del self.by_ticket[c.ticket]
            # Tickets never served were closed with their day; cases keep their holder's proof.
            self.holders = {t: h for t, h in self.holders.items() if t in self.by_ticket}
