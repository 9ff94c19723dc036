"""Positions and waits that match the calls: the engine's own call order, played forward.

A ticket's position is the number of tickets the engine would call before it if nothing new
arrived (plus one: 1 = next), and its estimated wait is when that call would come. Both come from
playing the hall forward with the balancing rule itself (`balance.choose`): every open window,
when its current case ends (by the service time measured for that window and business), calls
what the rule gives it at that moment; max-wait and appointment slots are judged at the moment of
each call. Nothing is approximated by "people in my line ÷ windows".

Windows only interact through shared businesses, so the hall splits into window groups (connected
windows and businesses); each group has its own plan, and positions count within the group.
Who plays: the group's open windows (idle, calling, serving); when none is open, all its windows as
if they opened now; tickets only closed or paused windows could take are played after the open
windows run dry, by those windows as if they opened now.

Cost: a plan is built when a position is asked after something changed in the group, O(waiting ×
businesses per window); it is kept while nothing changes (for `STALE_S`, so waits follow the
clock). A new ticket at the end of a line that the plan had already emptied, with no call by the
windows that serve it after that, only extends the plan (a kiosk issuing under load does not
rebuild it). Call-next never waits for any of this: the engine only marks the group changed.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from typing import Any, NamedTuple

from queued.core.balance import choose
from queued.core.queues import Lane

STALE_S = 5.0  # a plan older than this is played again: windows' cases go on while nobody asks
MIN_SERVICE_S = 1.0
# Calls a plan plays at most. A hall's group rarely has more waiting; past it a position is the
# plan's end plus the ticket's place in its own line, and the wait is extrapolated at the plan's
# pace. It bounds a rebuild (~3 µs a call) where a benchmark or a runaway kiosk piles up tens of
# thousands (80,000 waiting made each rebuild a ~0.2 s stall of the loop).
HORIZON = 2000


class Estimate(NamedTuple):
    position: int | None  # 1 = called next
    eta_seconds: int | None
    window: str | None = None  # the window the plan gives it to


class _FifoCursor:
    """A read-only cursor over a real FIFO lane: the plan consumes it, the lane stays as it is."""

    __slots__ = ("real", "pos", "alive", "q", "exhausted")

    def __init__(self, real: Lane, q: Any):
        self.real = real
        self.pos = real.head
        self.alive = real.alive
        self.q = q  # the _SimQueue whose `waiting` counts this lane, or None (a window's lane)
        self.exhausted: tuple | None = None if real.alive else ()  # key of the call that emptied it

    def peek(self):
        items = self.real.items
        real = self.real
        i = self.pos
        n = len(items)
        while i < n:
            t = items[i]
            if t.lane is real and t.lane_pos == i:
                self.pos = i
                return t
            i += 1
        self.pos = i
        return None

    def take(self, key: tuple) -> None:
        self.pos += 1
        self.alive -= 1
        if self.alive == 0:
            self.exhausted = key


class _SortedCursor:
    __slots__ = ("items", "pos", "alive", "q", "exhausted")

    def __init__(self, real, q: Any):
        self.items = real.items
        self.pos = 0
        self.alive = len(real.items)
        self.q = q
        self.exhausted = None

    def peek(self):
        return self.items[self.pos][2] if self.pos < len(self.items) else None

    def take(self, key: tuple) -> None:
        self.pos += 1
        self.alive -= 1


class _SimQueue:
    __slots__ = ("green", "transfer", "normal", "placed", "appointment", "waiting")


class Plan:
    """One window group's call order from `now`: keys (call time, window index, step) in order."""

    __slots__ = ("now", "keys", "at", "cursors", "queues", "directed", "later", "dry", "last_pick",
                 "heap", "step", "spilled", "pending", "truncated")

    def __init__(self, now: float):
        self.now = now
        self.keys: list[tuple] = []  # sorted
        self.at: dict[str, tuple] = {}  # ticket id → (key, window id, end of its service)
        self.cursors: dict[int, Any] = {}  # id(real lane) → cursor
        self.queues: dict[str, _SimQueue] = {}
        self.directed: dict[str, _FifoCursor] = {}
        self.later: dict[str, _SortedCursor] = {}
        self.dry: dict[str, float] = {}  # window → when it had nothing left to call
        self.last_pick: dict[str, tuple] = {}  # window → key of its last call in the plan
        self.heap: list = []
        self.step = 0
        self.spilled = False  # closed or paused windows were played: no extending, rebuild instead
        self.pending: list = []  # tickets appended since the plan was played (extend or rebuild)
        self.truncated = False  # HORIZON calls played with tickets left: those are estimated, not played


class Planner:
    def __init__(self, state):
        self.state = state
        hall = state.hall
        # Window groups: union of windows and businesses that serve each other.
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for b in hall.businesses:
            find("b:" + b.code)
        for w in hall.windows:
            for code in w.businesses:
                parent[find("w:" + w.id)] = find("b:" + code)
        roots: dict[str, int] = {}
        self.group_of_business = {b.code: roots.setdefault(find("b:" + b.code), len(roots)) for b in hall.businesses}
        self.group_of_window = {w.id: roots.setdefault(find("w:" + w.id), len(roots)) for w in hall.windows}
        self.groups = len(roots)
        self.windows_of = [[w.id for w in hall.windows if self.group_of_window[w.id] == g] for g in range(self.groups)]
        self.businesses_of = [[b.code for b in hall.businesses if self.group_of_business[b.code] == g]
                              for g in range(self.groups)]
        self.serves = {b.code: [w.id for w in hall.windows if b.code in w.businesses] for b in hall.businesses}
        self.plans: list[Plan | None] = [None] * self.groups
        self.builds = 0  # plans played from scratch (for the benchmark and tests)
        self.extends = 0

    # ---- what changed (called from HallState.apply; must stay O(1)) ------------------------------

    def reset(self) -> None:
        self.plans = [None] * self.groups

    def touch_business(self, code: str) -> None:
        self.plans[self.group_of_business[code]] = None

    def touch_window(self, window: str) -> None:
        self.plans[self.group_of_window[window]] = None

    def appended(self, t, lane) -> None:
        """`t` joined the end of a FIFO `lane`: the plan may be extended instead of rebuilt."""
        g = self.group_of(t)
        plan = self.plans[g]
        if plan is not None:
            plan.pending.append((t, lane))

    # ---- queries -------------------------------------------------------------------------------

    def group_of(self, t) -> int:
        """The window group whose plan holds `t`: its window's if it was sent to one."""
        return self.group_of_window[t.to_window] if t.to_window is not None else self.group_of_business[t.business]

    def estimate(self, t, now: float) -> Estimate:
        if t.status != "waiting" or t.lane is None:
            return Estimate(None, None)
        g = self.group_of(t)
        plan = self.plan(g, now)
        entry = plan.at.get(t.id)
        if entry is None:
            return self._beyond(plan, t, now) if plan.truncated else Estimate(None, None)
        key, window, _ = entry
        return Estimate(bisect_left(plan.keys, key) + 1, max(0, round(key[0] - now)), window)

    def _beyond(self, plan: Plan, t, now: float) -> Estimate:
        """A ticket past the plan's HORIZON: after every call played, its place in its own line."""
        cursor = plan.cursors.get(id(t.lane))
        ahead = max(0, t.lane_pos - cursor.pos) if isinstance(cursor, _FifoCursor) else 0
        played = len(plan.keys)
        span = max(1.0, plan.keys[-1][0] - plan.now) if played else 1.0
        eta = plan.keys[-1][0] + (ahead + 1) * span / played if played else now
        return Estimate(played + ahead + 1, max(0, round(eta - now)), None)

    def plan(self, g: int, now: float) -> Plan:
        plan = self.plans[g]
        if plan is not None and plan.pending:
            plan = self._extend(g, plan)
        if plan is None or not (plan.now <= now <= plan.now + STALE_S):
            plan = self.plans[g] = self._build(g, now)
        return plan

    def forecast(self, now: float) -> list[tuple[Any, float, str]]:
        """(ticket, predicted end of its service, window) for every waiting ticket the plans reach."""
        out = []
        tickets = self.state.tickets
        for g in range(self.groups):
            plan = self.plan(g, now)
            for tid, (_, window, end) in plan.at.items():
                t = tickets.get(tid)
                if t is not None and t.status == "waiting":
                    out.append((t, end, window))
            if plan.truncated:  # the rest of the group: after the plan's end, at its pace
                for t in tickets.values():
                    if t.status == "waiting" and t.id not in plan.at and t.lane is not None and self.group_of(t) == g:
                        est = self._beyond(plan, t, now)
                        out.append((t, now + (est.eta_seconds or 0), None))
        return out

    # ---- playing the hall forward ----------------------------------------------------------------

    def service_s(self, window: str, business: str) -> float:
        return max(MIN_SERVICE_S, self.state.service_estimate(window, business))

    def _build(self, g: int, now: float) -> Plan:
        self.builds += 1
        st = self.state
        plan = Plan(now)
        cursors = plan.cursors
        for code in self.businesses_of[g]:
            real = st.queues[code]
            q = _SimQueue()
            for name in ("green", "transfer", "normal"):
                c = _FifoCursor(getattr(real, name), q)
                cursors[id(c.real)] = c
                setattr(q, name, c)
            for name in ("placed", "appointment"):
                lane = getattr(real, name)
                c = _SortedCursor(lane, q)
                cursors[id(lane)] = c
                setattr(q, name, c)
            q.waiting = q.green.alive + q.transfer.alive + q.normal.alive + q.placed.alive + q.appointment.alive
            plan.queues[code] = q
        windows = [st.windows[w] for w in self.windows_of[g]]
        for w in windows:
            c = _FifoCursor(w.directed, None)
            cursors[id(w.directed)] = c
            plan.directed[w.id] = c
            s = _SortedCursor(w.later, None)
            cursors[id(w.later)] = s
            plan.later[w.id] = s
        playing = [w for w in windows if w.state in ("idle", "calling", "serving")]
        resting = [w for w in windows if w.state not in ("idle", "calling", "serving")]
        if not playing:
            playing, resting = windows, []
        for w in playing:
            heapq.heappush(plan.heap, (self._free_at(w, now), w.index, w.id))
        self._play(plan)
        if resting and any(q.waiting for q in plan.queues.values()) or any(
                plan.directed[w.id].alive or plan.later[w.id].alive for w in resting):
            plan.spilled = True
            for w in resting:
                heapq.heappush(plan.heap, (now, w.index, w.id))
            self._play(plan)
        return plan

    def _free_at(self, w, now: float) -> float:
        cur = w.current
        if w.state == "calling" and cur is not None:
            return max(now, (cur.called_at or now) + self.service_s(w.id, cur.business))
        if w.state == "serving" and cur is not None:
            started = cur.started_at if cur.started_at is not None else (cur.called_at or now)
            return max(now, started + cur.parked_s + self.service_s(w.id, cur.business))
        return now

    def _play(self, plan: Plan) -> None:
        st = self.state
        hall = st.hall
        max_wait, early = hall.max_wait_s, hall.appointment_early_s
        heap, queues, cursors, keys, at = plan.heap, plan.queues, plan.cursors, plan.keys, plan.at
        windows = st.windows
        pop, push = heapq.heappop, heapq.heappush
        in_order = not keys  # a fresh plan appends keys in order; an extended one inserts them
        while heap:
            if plan.step >= HORIZON:
                plan.truncated = True
                return
            free, index, wid = pop(heap)
            w = windows[wid]
            t = choose(w.businesses, queues, plan.directed[wid], plan.later[wid], free - max_wait, free + early, max_wait)
            if t is None:
                plan.dry[wid] = free
                continue
            plan.step += 1
            key = (free, index, plan.step)
            cursor = cursors[id(t.lane)]
            cursor.take(key)
            if cursor.q is not None:
                cursor.q.waiting -= 1
            end = free + self.service_s(wid, t.business)
            at[t.id] = (key, wid, end)
            plan.last_pick[wid] = key
            if in_order:
                keys.append(key)
            else:
                insort(keys, key)
            push(heap, (end, index, wid))

    def _extend(self, g: int, plan: Plan) -> Plan | None:
        """Fold the tickets appended since the plan was played into it, or give it up (None)."""
        pending, plan.pending = plan.pending, []
        if plan.spilled:
            self.plans[g] = None
            return None
        for t, lane in pending:
            cursor = plan.cursors.get(id(lane))
            if cursor is None or not isinstance(cursor, _FifoCursor):
                self.plans[g] = None
                return None
            cursor.alive += 1
            if cursor.q is not None:
                cursor.q.waiting += 1
            if cursor.exhausted is None:
                continue  # the line was not emptied in the plan: nothing before the new ticket changes
            takers = [t.to_window] if cursor.q is None else [w for w in self.serves[t.business]
                                                             if w in plan.dry or w in plan.last_pick]
            mark = cursor.exhausted
            if any(plan.last_pick.get(w, ()) > mark for w in takers):
                self.plans[g] = None  # a window that could take it called someone later: replay
                return None
            cursor.exhausted = None
            for w in takers:
                if w in plan.dry:
                    heapq.heappush(plan.heap, (plan.dry.pop(w), self.state.windows[w].index, w))
            self._play(plan)
            self.extends += 1
        return plan
