"""One simulated day through the real engine: the engine decides every call, the simulator plays
the citizens and the clerks on a simulated clock. No HTTP, no journal, no wall clock.

The clerks' policy is simple and what halls ask of them: an idle window calls the next ticket the
moment one waits for it; 办结 and 呼叫 are one press (`CallNext` finishes the case in hand); a no-show
is recalled every `recall_every_s` up to `recalls` times, then skipped (过号). A window leaves at the
end of its shift after the case in hand; a pause waits for the case in hand too. At `closes` the
windows still open keep calling until nothing waits for them (延时), then close; at `hard_close`
what still waits is closed out (留号). Pads have no 开始 key, so a case runs from the call to 办结.

Cost: the engine's commands (issue, call) are most of it; the loop itself is a heap of window
events merged with the day's pre-drawn arrivals.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from queued.core import commands as c
from queued.core import events as e
from queued.core.engine import Engine
from queued.core.errors import CoreError
from queued.simulate.arrivals import Arrival

LAST_MINUTE = 23 * 60 + 55  # a day still not done by then is closed out before the engine's midnight


@dataclass
class WindowTally:
    served: int = 0
    no_shows: int = 0
    open_s: float = 0.0  # idle, calling or serving
    busy_s: float = 0.0  # calling or serving
    paused_s: float = 0.0
    extended_s: float = 0.0  # open after `closes`
    busy_by_business: dict[str, float] = field(default_factory=dict)
    waits: list[float] = field(default_factory=list)  # of the tickets this window called first
    skipped: int = 0  # tickets last left skipped here


@dataclass
class BusinessTally:
    issued: int = 0
    refused: int = 0  # turned away by the engine (issuing closed, daily cap)
    served: int = 0
    skipped: int = 0
    left_over: int = 0  # still waiting when the day was closed out
    waits: list[float] = field(default_factory=list)  # issue → first call, called tickets
    issued_at: list[float] = field(default_factory=list)  # seconds after midnight, same order as waits
    eta_errors: list[float] = field(default_factory=list)  # |ETA shown at issue − wait|


@dataclass
class DayResult:
    day: str
    businesses: dict[str, BusinessTally]
    windows: dict[str, WindowTally]
    events: list[e.Event] | None = None
    overran: bool = False  # still serving at LAST_MINUTE


class _Window:
    __slots__ = ("eid", "tally", "businesses", "shifts", "speed", "state", "on_duty", "after", "drain",
                 "case", "tries", "since", "busy_since", "serving", "call", "recall", "skip", "pause", "resume", "close",
                 "finish", "sibling_busy", "deferred")

    def __init__(self, eid: str, tally: WindowTally, businesses: tuple[str, ...], shifts):
        self.eid = eid
        self.tally = tally
        self.businesses = businesses
        self.shifts = shifts
        self.speed = 1.0
        self.state = "closed"  # closed | free (between cases) | idle (waiting for a ticket) | busy | paused
        self.on_duty = False
        self.after: str | None = None  # what the clerk does after the case in hand: "pause" | "close"
        self.drain = False  # past the end of its last shift, serving what still waits (延时)
        self.case = 0.0
        self.tries = 0
        self.since = 0.0  # entered the current open/paused state
        self.busy_since = 0.0
        self.serving = ""  # business of the case in hand
        self.call, self.recall, self.skip = c.CallNext(eid), c.Recall(eid), c.Skip(eid)
        self.pause, self.resume, self.close = c.Pause(eid), c.Resume(eid), c.CloseWindow(eid)
        self.finish = c.Finish(eid)
        self.deferred = None  # a shift start waiting for this window's other engine window to close


class DaySim:
    def __init__(self, scenario, engine: Engine, day: str, arrivals: list[Arrival], *, eta_every: int = 1,
                 record_events: bool = False, day_index: int = 0, observer=None, sample_every_s: float = 0.0):
        self.sc = scenario
        self.eng = engine
        self.day = day
        self.arrivals = arrivals
        self.eta_every = eta_every  # read the ETA of every n-th ticket issued (0: none)
        self.events: list[e.Event] | None = [] if record_events else None
        # An observer (benchmarks of what the engine tells citizens) hears `issued_ticket(sim, t)`,
        # `called_ticket(sim, t)` and, every `sample_every_s` while anyone waits, `sample(sim)`.
        self.observer = observer
        self.prefix = f"d{day_index}-"
        cal = engine.calendar
        self.midnight = cal.at(day, 0)
        closing = scenario.closing
        self.closes = None if closing.closes is None else self.midnight + closing.closes * 60
        policy = scenario.demand.clerks
        self.walk_s, self.recall_s, self.recalls = policy.walk_s, policy.recall_every_s, policy.recalls
        self.heap: list = []
        self.seq = itertools.count()
        self.now = self.midnight
        self.idle: dict[str, dict[_Window, None]] = {b.code: {} for b in scenario.hall.businesses}
        self.cases: dict[str, tuple[bool, float]] = {}  # ticket → (no-show, case seconds before speed)
        self.eta: dict[str, int | None] = {}
        self.tallies = {b.code: BusinessTally() for b in scenario.hall.businesses}
        self.window_tallies: dict[str, WindowTally] = {}
        self.windows: list[_Window] = []
        by_window: dict[str, list[_Window]] = {}
        for ew in scenario.engine_windows:
            tally = self.window_tallies.setdefault(ew.window, WindowTally())
            w = _Window(ew.id, tally, ew.businesses, ew.shifts)
            self.windows.append(w)
            by_window.setdefault(ew.window, []).append(w)
            for s in ew.shifts:
                if s.end <= s.start:  # shut all day
                    continue
                self.at(self.midnight + s.start * 60, self._shift_start, (w, s))
                self.at(self.midnight + s.end * 60, self._shift_end, (w, s))
                for p, q in s.pauses:
                    self.at(self.midnight + p * 60, self._pause_start, (w, s))
                    self.at(self.midnight + q * 60, self._pause_end, (w, s))
        self.siblings = {w: [x for x in group if x is not w] for group in by_window.values() for w in group}
        last = {}
        for w in self.windows:
            end = max((s.end for s in w.shifts), default=0)
            last[w] = end
        self.last_end = last
        if closing.hard_close is not None:
            self.at(self.midnight + closing.hard_close * 60, self._hard_close, None)
        self.at(self.midnight + LAST_MINUTE * 60, self._give_up, None)
        self.sample_every_s = sample_every_s
        self.last_arrival = arrivals[-1][0] if arrivals else self.midnight
        if observer is not None and sample_every_s > 0:
            self.at(self.midnight + scenario.opens * 60, self._sample, None)
        self.closed_out = False
        self.overran = False
        self.finished = False

    # ---- the loop ----------------------------------------------------------------------------

    def at(self, t: float, fn, arg) -> None:
        heapq.heappush(self.heap, (t, next(self.seq), fn, arg))

    def ex(self, cmd) -> list[e.Event]:
        evs = self.eng.execute(cmd, self.now)
        if self.events is not None:
            self.events.extend(evs)
        return evs

    def run(self) -> DayResult:
        heap, pop = self.heap, heapq.heappop
        arrivals, arrive = self.arrivals, self._arrive
        n, i = len(arrivals), 0
        inf = float("inf")
        while not self.finished:
            ta = arrivals[i][0] if i < n else inf
            if heap and heap[0][0] <= ta:
                t, _, fn, arg = pop(heap)
                self.now = t
                fn(arg)
            elif i < n:
                self.now = ta
                arrive(arrivals[i], i)
                i += 1
            else:
                break
        return self._result()

    def _anyone_left(self) -> bool:
        return any(q.waiting for q in self.eng.queues.values()) or any(w.state == "busy" for w in self.windows)

    # ---- citizens ----------------------------------------------------------------------------

    def _arrive(self, a: Arrival, i: int) -> None:
        at, code, prio, due, no_show, case, booking = a
        tid = self.prefix + str(i)
        try:
            evs = self.eng.execute(c.IssueTicket(code, tid, "appointment" if booking else "kiosk", prio, None,
                                                 due, booking), at)
        except CoreError:
            self.tallies[code].refused += 1
            return
        if self.events is not None:
            self.events.extend(evs)
        self.cases[tid] = (no_show, case)
        if self.eta_every and i % self.eta_every == 0:
            eng = self.eng
            self.eta[tid] = eng.eta_seconds(eng.tickets[tid], at)
        if self.observer is not None:
            self.observer.issued_ticket(self, self.eng.tickets[tid])
        idle = self.idle[code]
        if idle:
            self._call(next(iter(idle)))

    # ---- windows -------------------------------------------------------------------------------

    def _set_idle(self, w: _Window) -> None:
        w.state = "idle"
        for b in w.businesses:
            self.idle[b][w] = None

    def _leave_idle(self, w: _Window) -> None:
        for b in w.businesses:
            self.idle[b].pop(w, None)

    def _close_open_time(self, w: _Window) -> None:
        """Account the open stretch that ends now (→ closed or paused)."""
        now, tally = self.now, w.tally
        tally.open_s += now - w.since
        if self.closes is not None and now > self.closes:
            tally.extended_s += now - max(self.closes, w.since)

    def _call(self, w: _Window) -> None:
        """The clerk presses 呼叫; the engine decides whom."""
        evs = self.ex(w.call)
        ev = evs[-1] if evs else None
        now = self.now
        if ev is not None and ev.__class__ is e.TicketCalled:
            if w.state == "idle":
                self._leave_idle(w)
            w.state = "busy"
            w.busy_since = now
            t = self.eng.tickets[ev.ticket]
            w.serving = t.business
            if self.observer is not None:
                self.observer.called_ticket(self, t)
            no_show, case = self.cases[ev.ticket]
            if no_show:
                w.tries = 0
                self.at(now + self.recall_s, self._no_show, w)
            else:
                self.at(now + self.walk_s + case * w.speed, self._done, w)
        elif w.drain or not w.on_duty:
            self._close(w)
        elif w.state != "idle":
            self._set_idle(w)

    def _done(self, w: _Window) -> None:
        self.ex(w.finish)  # 办结
        self._free(w)

    def _no_show(self, w: _Window) -> None:
        if w.tries < self.recalls:
            w.tries += 1
            self.ex(w.recall)  # 重呼
            self.at(self.now + self.recall_s, self._no_show, w)
            return
        self.ex(w.skip)  # 过号
        w.tally.no_shows += 1
        self._free(w)

    def _free(self, w: _Window) -> None:
        """The case in hand is over (the engine's window is idle): call on, pause or leave."""
        busy = self.now - w.busy_since
        tally = w.tally
        tally.busy_s += busy
        tally.busy_by_business[w.serving] = tally.busy_by_business.get(w.serving, 0.0) + busy
        after, w.after = w.after, None
        if after is None:
            self._call(w)
        elif after == "pause":
            self._close_open_time(w)
            self.ex(w.pause)
            w.state = "paused"
            w.since = self.now
        else:
            self._close(w)

    def _close(self, w: _Window) -> None:
        if w.state == "idle":
            self._leave_idle(w)
        if w.state == "paused":
            w.tally.paused_s += self.now - w.since
        else:
            self._close_open_time(w)
        self.ex(w.close)
        w.state = "closed"
        w.on_duty = False
        w.drain = False
        for sib in self.siblings[w]:
            if sib.deferred is not None:
                shift, sib.deferred = sib.deferred, None
                self._shift_start((sib, shift))

    # ---- the plan ---------------------------------------------------------------------------------

    def _shift_start(self, arg) -> None:
        w, shift = arg
        if self.closed_out:
            return
        if any(s.state != "closed" for s in self.siblings[w]):
            w.deferred = shift  # the clerk first finishes the other business's case
            return
        w.on_duty = True
        w.drain = False
        w.speed = shift.speed
        if w.state == "closed":
            w.state = "free"
            w.since = self.now
            self._call(w)  # the engine opens the window

    def _shift_end(self, arg) -> None:
        w, shift = arg
        if w.deferred is shift:
            w.deferred = None
            return
        if not w.on_duty:
            return
        if shift.end >= self.last_end[w] and shift.end >= self.sc.day_end:
            w.drain = True  # 延时: keep serving what waits for this window, then close
            if w.state == "idle":
                self._close(w)
            elif w.state == "paused":
                self._resume(w)
            return
        w.on_duty = False
        if w.state == "busy":
            w.after = "close"
        elif w.state in ("idle", "paused"):
            self._close(w)

    def _pause_start(self, arg) -> None:
        w, _ = arg
        if not w.on_duty:
            return
        if w.state == "idle":
            self._leave_idle(w)
            self._close_open_time(w)
            self.ex(w.pause)
            w.state = "paused"
            w.since = self.now
        elif w.state == "busy":
            w.after = "pause"

    def _pause_end(self, arg) -> None:
        w, _ = arg
        if w.after == "pause":  # the case in hand outlasted the pause
            w.after = None
        elif w.state == "paused" and not self.closed_out:
            self._resume(w)

    def _resume(self, w: _Window) -> None:
        self.ex(w.resume)
        w.tally.paused_s += self.now - w.since
        w.since = self.now
        w.state = "free"
        self._call(w)

    def _sample(self, _) -> None:
        self.observer.sample(self)
        if self.now < self.last_arrival or self._anyone_left():
            self.at(self.now + self.sample_every_s, self._sample, None)

    # ---- the end of the day ------------------------------------------------------------------

    def _hard_close(self, _) -> None:
        self._close_out()

    def _give_up(self, _) -> None:
        if not self._anyone_left():
            self.finished = True
            return
        self.overran = True
        self._close_out()

    def _close_out(self) -> None:
        """留号: what still waits is closed out; windows leave after the case in hand."""
        if self.closed_out:
            return
        self.closed_out = True
        left = {code: q.waiting for code, q in self.eng.queues.items()}
        self.ex(c.CloseOutDay())
        for code, n in left.items():
            self.tallies[code].left_over += n
        for w in self.windows:
            w.on_duty = False
            w.deferred = None
            if w.state == "busy":
                w.after = "close"
            elif w.state in ("idle", "paused"):
                self._close(w)

    # ---- what the day came to ------------------------------------------------------------------

    def _result(self) -> DayResult:
        for w in self.windows:  # shifts that never ended (a plan past the last event)
            if w.state == "paused":
                w.tally.paused_s += self.now - w.since
            elif w.state in ("idle", "busy"):
                if w.state == "busy":
                    w.tally.busy_s += self.now - w.busy_since
                self._close_open_time(w)
        physical = {}
        for w in self.windows:
            w.tally.served += self.eng.windows[w.eid].served
            physical[w.eid] = w.tally
        tallies, midnight, eta = self.tallies, self.midnight, self.eta
        for t in self.eng.tickets.values():
            b = tallies[t.business]
            b.issued += 1
            status = t.status
            if status == "done":
                b.served += 1
            elif status == "skipped":
                b.skipped += 1
                physical[t.window].skipped += 1
            first = t.first_called_at
            if first is not None:
                wait = first - t.issued_at
                b.waits.append(wait)
                b.issued_at.append(t.issued_at - midnight)
                physical[t.window].waits.append(wait)
                guess = eta.get(t.id)
                if guess is not None:
                    b.eta_errors.append(abs(guess - wait))
        return DayResult(self.day, tallies, self.window_tallies, self.events, self.overran)
