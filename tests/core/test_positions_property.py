"""Positions that match the calls, as a property (hypothesis): on 300 random halls (1–4 businesses,
1–5 windows each serving a random ordered subset, green channel, checked-in appointments due at
random slots, transfers to a business or a window placed front / end / issued, a short max wait
so overdue tickets jump the line), with no new arrivals:

- the order in which the windows actually call tickets equals the order of their reported
  positions, per window group (the next ticket called in a group is the one reported at position 1,
  at the window and the time its estimate named), and
- a ticket's reported position never goes up.

The clerks act as the estimate assumes: each case takes the hall's service time, and a window
calls again the moment its case ends. All times are whole seconds, so estimates are exact.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queued.core import Business, CallNext, Engine, HallConfig, IssueTicket, Start, Transfer, Window
from queued.core.calendar import HallCalendar
from tests.support import Clock

HALLS = 300
SERVICE_S = 300.0


@st.composite
def halls(draw):
    codes = "ABCD"[: draw(st.integers(1, 4))]
    n_windows = draw(st.integers(1, 5))
    windows = []
    for i in range(n_windows):
        serves = draw(st.lists(st.sampled_from(codes), min_size=1, max_size=len(codes), unique=True))
        windows.append(Window(str(i + 1), tuple(serves)))
    hall = HallConfig(id="h", name="随机大厅", businesses=tuple(Business(c, f"业务{c}") for c in codes
                                                           if any(c in w.businesses for w in windows)),
                      windows=tuple(windows), max_wait_s=draw(st.sampled_from([600.0, 1200.0, 3600.0])),
                      default_service_s=SERVICE_S, appointment_early_s=draw(st.sampled_from([0.0, 600.0])))
    served = [b.code for b in hall.businesses]
    tickets = draw(st.lists(st.tuples(st.sampled_from(served), st.sampled_from(["normal", "normal", "green", "appt"]),
                                      st.integers(0, 120)), min_size=1, max_size=25))
    transfers = draw(st.lists(st.tuples(st.integers(0, n_windows - 1), st.booleans(), st.sampled_from(served),
                                        st.integers(0, n_windows - 1), st.sampled_from(["front", "end", "issued"])),
                              max_size=4))
    return hall, tickets, transfers


def _called(events) -> str | None:
    return next((e.ticket for e in events if e.kind == "ticket_called"), None)


@settings(max_examples=HALLS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(halls())
def test_calls_follow_the_reported_positions(case):
    hall, tickets, transfers = case
    clock = Clock()
    eng = Engine(hall, HallCalendar("Asia/Shanghai"))
    do = lambda cmd: eng.execute(cmd, clock())  # noqa: E731
    start = clock.now
    for i, (code, kind, slot) in enumerate(tickets):  # one arrival a second
        clock.now = start + i
        due = start + slot * 60 if kind == "appt" else None
        do(IssueTicket(code, f"t{i}", priority="green" if kind == "green" else "normal", due_at=due,
                       channel="appointment" if due else "kiosk"))
    clock.now = start + len(tickets)
    # Some windows call one and send it on (转移) to a business or a window, front, end or by issue time.
    windows = [w.id for w in hall.windows]
    for wi, to_business, code, target, place in transfers:
        w = windows[wi]
        if eng.windows[w].state not in ("closed", "idle") or _called(do(CallNext(w))) is None:
            continue
        other = windows[target]
        if to_business:
            do(Transfer(w, business=code, place=place))
        elif other != w:
            do(Transfer(w, to_window=other, place=place))
        else:
            do(Start(w))
    for w in windows:  # every window opens (a call-next) and takes its first case
        if eng.windows[w].state == "closed":
            do(CallNext(w))
        if eng.windows[w].state == "calling":
            do(Start(w))

    # The hall runs on by itself: each window calls again when its case ends (started + service),
    # ties in window order; nobody new arrives. Before every call, every waiting ticket's estimate.
    free = {w: eng.windows[w].current.started_at + SERVICE_S if eng.windows[w].current else clock()
            for w in windows}
    index = {w: i for i, w in enumerate(windows)}
    group = eng.plans.group_of_window
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    calls: list[tuple[int, str]] = []  # (group, ticket) in the order the windows called them
    while free:
        w = min(free, key=lambda x: (free[x], index[x]))
        now = clock()
        estimates = {t.id: eng.estimate(t, now) for t in eng.tickets.values() if t.status == "waiting"}
        for tid, est in estimates.items():
            assert est.position is not None, eng.tickets[tid].number
            assert est.position <= last.get(tid, est.position), (eng.tickets[tid].number, last[tid], est.position)
            last[tid] = est.position
            first.setdefault(tid, est.position)
        clock.now = max(now, free[w])
        got = _called(do(CallNext(w)))  # the window finishes its case and calls the next
        if got is None:
            del free[w]  # nothing it can serve will come: no new arrivals
            continue
        est = estimates[got]
        number = eng.tickets[got].number
        assert est.position == 1 and est.window == w, (number, est)
        assert est.eta_seconds == round(clock() - now), (number, est, clock() - now)
        calls.append((group[w], got))
        do(Start(w))
        free[w] = clock() + SERVICE_S
    assert not [t for t in eng.tickets.values() if t.status == "waiting"]
    for g in set(group.values()):  # per window group: called in the order of the positions first reported
        order = [tid for gg, tid in calls if gg == g and tid in first]
        assert order == sorted(order, key=lambda tid: first[tid])
