"""The hall engine's rules, on the pure core (no I/O): what clerks and citizens would see."""

from __future__ import annotations

import pytest

from queued.core import (
    Business,
    CallNext,
    CallNumber,
    CancelTicket,
    Clerk,
    CloseOutDay,
    CoreError,
    Engine,
    Finish,
    HallConfig,
    IssueTicket,
    Park,
    Pause,
    Recall,
    Resume,
    SignIn,
    Skip,
    Start,
    Transfer,
    Unpark,
    Window,
)
from queued.core.calendar import HallCalendar
from tests.support import Clock

HALL = HallConfig(
    id="main",
    name="测试大厅",
    businesses=(
        Business("A", "综合受理"),
        Business("B", "不动产登记"),
        Business("C", "社保", daily_cap=2),
        Business("D", "税务", hours=((8 * 60 + 30, 12 * 60),)),
    ),
    windows=(
        Window("1", ("A", "B")),
        Window("2", ("B", "A")),
        Window("3", ("C",)),
        Window("4", ("D", "A")),
    ),
    clerks=(Clerk("1001", "张三"), Clerk("1002", "李四")),
    max_wait_s=3600,
    max_recalls=2,
)


class Hall:
    """The engine with a clock and short-hands, as a clerk's keys would drive it."""

    def __init__(self, hall: HallConfig = HALL):
        self.clock = Clock()
        self.engine = Engine(hall, HallCalendar("Asia/Shanghai"))
        self.n = 0

    def do(self, cmd):
        return self.engine.execute(cmd, self.clock())

    def issue(self, business="A", **kw):
        self.n += 1
        kw.setdefault("rating_key", f"key-of-t{self.n}")
        evs = self.do(IssueTicket(business, f"t{self.n}", **kw))
        return self.engine.tickets[evs[-1].ticket]

    def call(self, window):
        evs = self.do(CallNext(window))
        called = [e for e in evs if e.kind == "ticket_called"]
        return self.engine.tickets[called[0].ticket].number if called else None

    def code_of(self, cmd) -> str:
        with pytest.raises(CoreError) as info:
            self.do(cmd)
        return info.value.code


@pytest.fixture
def hall():
    return Hall()


def test_numbers_are_prefix_and_three_digits_per_business(hall):
    numbers = [hall.issue(b).number for b in "AABAB"]
    assert numbers == ["A001", "A002", "B001", "A003", "B002"]


def test_numbers_go_past_999_without_reuse():
    h = Hall()
    h.engine.day = h.engine.calendar.day(h.clock())
    h.engine.counters["A"] = 998
    assert [h.issue("A").number for _ in range(3)] == ["A999", "A1000", "A1001"]


def test_life_of_a_ticket(hall):
    t = hall.issue("A")
    assert (t.status, hall.engine.position(t, hall.clock())) == ("waiting", 1)
    assert hall.call("1") == "A001"
    assert t.status == "called" and t.window == "1"
    hall.do(Start("1"))
    assert t.status == "serving"
    hall.clock.advance(240)
    evs = hall.do(Finish("1"))
    assert t.status == "done"
    assert evs[0].kind == "ticket_finished" and evs[0].case == t.serial and evs[0].service_s == 240
    assert hall.engine.windows["1"].state == "idle"


def test_finish_from_calling_implies_the_start(hall):
    t = hall.issue("A")
    hall.call("1")
    hall.clock.advance(100)
    (ev,) = hall.do(Finish("1"))
    assert t.status == "done" and ev.service_s == 100  # measured from the call


def test_call_next_from_serving_finishes_first(hall):
    hall.issue("A")
    hall.issue("A")
    hall.call("1")
    hall.do(Start("1"))
    evs = hall.do(CallNext("1"))
    assert [e.kind for e in evs] == ["ticket_finished", "ticket_called"]
    assert hall.engine.tickets["t1"].status == "done"
    assert hall.engine.window_view("1")["ticket"] == "A002"


def test_call_next_refused_while_calling_or_paused(hall):
    hall.issue("A")
    hall.issue("A")
    hall.call("1")
    assert hall.code_of(CallNext("1")) == "invalid_state"
    hall.do(Skip("1"))
    hall.do(Pause("1"))
    assert hall.code_of(CallNext("1")) == "invalid_state"
    hall.do(Resume("1"))
    assert hall.call("1") == "A002"


def test_nobody_waiting_gives_no_ticket(hall):
    assert hall.call("1") is None
    assert hall.engine.windows["1"].state == "idle"


def test_recall_is_capped(hall):
    hall.issue("A")
    hall.call("1")
    hall.do(Recall("1"))
    hall.do(Recall("1"))
    assert hall.code_of(Recall("1")) == "recall_limit"
    assert hall.engine.tickets["t1"].recalls == 2


def test_skipped_ticket_can_be_called_back_the_same_day(hall):
    hall.issue("A")
    hall.issue("A")
    hall.call("1")
    hall.do(Skip("1"))
    assert hall.engine.tickets["t1"].status == "skipped"
    assert hall.call("1") == "A002"  # the skipped one does not come back by itself
    hall.do(Finish("1"))
    hall.do(CallNumber("1", number="a001"))
    assert hall.engine.window_view("1")["ticket"] == "A001"


def test_special_call_takes_one_number_out_of_turn(hall):
    for _ in range(3):
        hall.issue("A")
    hall.do(CallNumber("2", number="A003"))
    assert hall.engine.window_view("2")["ticket"] == "A003"
    assert hall.call("1") == "A001"
    assert hall.engine.position(hall.engine.tickets["t2"], hall.clock()) == 1
    assert hall.code_of(CallNumber("2", number="A003")) == "invalid_state"  # window 2 is calling
    assert hall.code_of(CallNumber("4", number="Z999")) == "unknown_ticket"


def test_transfer_to_a_business_waits_again_at_the_front(hall):
    hall.issue("A")
    for _ in range(3):
        hall.issue("B")
    hall.call("1")  # A001
    hall.do(Transfer("1", business="B"))
    t = hall.engine.tickets["t1"]
    assert (t.status, t.business, hall.engine.position(t, hall.clock())) == ("waiting", "B", 1)
    assert hall.call("2") == "A001"  # ahead of B001..B003


def test_transfer_to_a_window_goes_to_that_window_only(hall):
    hall.issue("A")
    hall.issue("A")
    hall.call("1")
    hall.do(Transfer("1", to_window="4"))
    assert hall.call("2") == "A002"  # window 2 serves A but the ticket was sent to window 4
    assert hall.call("4") == "A001"


def test_transfer_errors(hall):
    hall.issue("A")
    assert hall.code_of(Transfer("1", business="B")) == "invalid_state"  # nothing called
    hall.call("1")
    assert hall.code_of(Transfer("1", business="Z")) == "unknown_business"
    assert hall.code_of(Transfer("1", to_window="99")) == "unknown_window"
    assert hall.code_of(Transfer("1")) == "invalid_request"


def test_green_channel_goes_before_every_normal_ticket(hall):
    hall.issue("A")
    hall.issue("B")
    hall.issue("B", priority="green")
    assert hall.call("1") == "B002"  # window 1 prefers A, but green goes first
    hall.do(Finish("1"))
    assert hall.call("1") == "A001"


def test_preference_order_of_the_window(hall):
    hall.issue("A")
    hall.issue("B")
    assert hall.call("2") == "B001"  # window 2 prefers B
    assert hall.call("1") == "A001"


def test_booked_appointment_goes_first_when_due(hall):
    now = hall.clock()
    hall.issue("A")
    hall.issue("A", due_at=now + 3600, appointment="bk1")  # slot in an hour: not yet
    assert hall.call("1") == "A001"
    hall.do(Finish("1"))
    hall.issue("A")
    hall.clock.advance(3600 - 300)  # within the early margin (600 s)
    assert hall.call("1") == "A002"


def test_max_wait_goes_before_everything(hall):
    hall.issue("A")  # will be overdue
    hall.clock.advance(3601)
    hall.issue("B", priority="green")
    hall.issue("B")
    assert hall.call("2") == "A001"  # window 2 prefers B and a green B waits, but A001 passed the limit
    assert hall.call("1") == "B001"


def test_overdue_ticket_is_taken_by_any_window_that_serves_it(hall):
    for _ in range(2):
        hall.issue("A")
    hall.clock.advance(3700)
    hall.issue("D")
    assert hall.call("4") == "A001"  # window 4 prefers D; A001 is overdue


def test_daily_cap(hall):
    hall.issue("C")
    hall.issue("C")
    assert hall.code_of(IssueTicket("C", "x")) == "quota_exhausted"
    assert hall.engine.counters["C"] == 2


def test_issuing_hours():
    h = Hall()
    h.clock.now = h.engine.calendar.at(h.engine.calendar.day(h.clock()), 13 * 60)
    assert h.code_of(IssueTicket("D", "x")) == "closed"
    h.clock.now = h.engine.calendar.at(h.engine.calendar.day(h.clock()), 9 * 60)
    assert h.issue("D").number == "D001"


def test_one_waiting_ticket_per_openid_and_business(hall):
    hall.issue("A", openid="o1")
    assert hall.code_of(IssueTicket("A", "x", openid="o1")) == "already_waiting"
    assert hall.issue("B", openid="o1").number == "B001"
    hall.call("1")  # A001 is no longer waiting: o1 may take another A
    assert hall.issue("A", openid="o1").number == "A002"


def test_cancel_by_the_holder_only(hall):
    t = hall.issue("A", openid="o1")
    assert hall.code_of(CancelTicket(t.id, "someone-else")) == "not_holder"
    assert hall.code_of(CancelTicket(t.id)) == "not_holder"
    assert hall.code_of(CancelTicket(t.id, key="not-its-key")) == "not_holder"
    kiosk = hall.issue("A")  # no openid: only its key proves the holder
    assert hall.code_of(CancelTicket(kiosk.id, "anyone")) == "not_holder"
    hall.do(CancelTicket(kiosk.id, key=kiosk.rating_key))
    assert kiosk.status == "cancelled"
    hall.do(CancelTicket(t.id, "o1"))
    assert t.status == "cancelled" and hall.engine.waiting("A") == 0
    assert hall.code_of(CancelTicket(t.id, "o1")) == "invalid_state"
    assert hall.call("1") is None


def test_position_and_estimate(hall):
    tickets = [hall.issue("A") for _ in range(4)]
    hall.do(SignIn("1", clerk="1001"))
    hall.do(SignIn("2", clerk="1002"))
    # two idle windows open for A, 300 s assumed per case: two are called now, two when they finish
    assert [hall.engine.position(t, hall.clock()) for t in tickets] == [1, 2, 3, 4]
    assert [hall.engine.eta_seconds(t, hall.clock()) for t in tickets] == [0, 0, 300, 300]
    hall.do(CancelTicket(tickets[1].id, key=tickets[1].rating_key))
    assert [hall.engine.position(t, hall.clock()) for t in (tickets[0], tickets[2], tickets[3])] == [1, 2, 3]


def test_service_time_average_learns_from_cases(hall):
    for _ in range(3):
        hall.issue("A")
    for _ in range(3):
        hall.call("1")
        hall.clock.advance(600)
        hall.do(Finish("1"))
    assert 300 < hall.engine.service_avg["A"] < 600


def test_clerk_signed_in_is_attributed_the_case(hall):
    hall.issue("A")
    hall.do(SignIn("1", clerk="1001"))
    hall.call("1")
    (ev,) = hall.do(Finish("1"))
    assert ev.clerk == "1001"
    hall.do(SignIn("2", clerk="1001"))  # moving to window 2 signs out of window 1
    assert hall.engine.windows["1"].clerk is None and hall.engine.windows["2"].clerk == "1001"
    assert hall.code_of(SignIn("1", clerk="9999")) == "unknown_clerk"


def test_pause_only_between_cases(hall):
    hall.issue("A")
    hall.call("1")
    assert hall.code_of(Pause("1")) == "invalid_state"
    hall.do(Finish("1"))
    hall.do(Pause("1"))
    assert hall.engine.window_view("1")["state"] == "paused"
    assert hall.code_of(Pause("1")) == "invalid_state"


def test_unknown_window(hall):
    assert hall.code_of(CallNext("99")) == "unknown_window"


def test_close_day_closes_waiting_tickets_and_stops_issuing(hall):
    hall.issue("A")
    hall.issue("A")
    hall.call("1")
    hall.do(CloseOutDay())
    assert hall.engine.tickets["t2"].status == "cancelled"
    assert hall.engine.tickets["t2"].cancel_reason == "day_closed"
    assert hall.engine.tickets["t1"].status == "called"  # the citizen at the window is still served
    assert hall.code_of(IssueTicket("A", "x")) == "closed"


def test_next_day_starts_at_001_and_closes_what_was_left(hall):
    hall.issue("A")
    hall.issue("A")
    serial = hall.engine.next_serial
    hall.clock.advance(86400)
    t = hall.issue("A")
    assert t.number == "A001" and t.serial == serial  # serials (case numbers) never restart
    assert "t1" not in hall.engine.tickets


# ---- the hall's day: 挂起/回呼, outcomes, pause reasons, transfer placement, the day's end ----------

def serve(hall, window="1"):
    """Call the next ticket at `window` and start serving it; its number."""
    number = hall.call(window)
    hall.do(Start(window))
    return number


def test_park_sets_the_case_aside_and_frees_the_window(hall):
    hall.issue("A")
    hall.issue("A")
    serve(hall)
    hall.clock.advance(120)
    (ev,) = hall.do(Park("1", reason="缺身份证复印件"))
    t1 = hall.engine.tickets["t1"]
    assert ev.kind == "ticket_parked" and ev.reason == "缺身份证复印件"
    assert t1.status == "parked" and t1.window == "1"
    w = hall.engine.window_view("1")
    assert w["state"] == "idle" and [p["number"] for p in w["parked"]] == ["A001"]
    assert hall.engine.position(t1, hall.clock()) is None
    assert hall.call("1") == "A002"  # the window serves others meanwhile
    hall.do(Finish("1"))
    hall.clock.advance(600)  # the citizen fetches the document
    (ev,) = hall.do(Unpark("1", ticket="t1"))
    assert ev.kind == "ticket_unparked" and t1.status == "serving"
    assert hall.engine.window_view("1")["parked"] == [] and hall.engine.window_view("1")["ticket"] == "A001"
    hall.clock.advance(60)
    (ev,) = hall.do(Finish("1"))
    assert ev.service_s == 180  # 120 s before and 60 s after: the parked time is not service time


def test_park_and_unpark_refuse_what_does_not_fit(hall):
    hall.issue("A")
    hall.issue("A")
    assert hall.code_of(Park("1")) == "invalid_state"  # nothing served
    hall.call("1")
    assert hall.code_of(Park("1")) == "invalid_state"  # called, not yet serving
    hall.do(Start("1"))
    hall.do(Park("1"))
    assert hall.code_of(Unpark("2", ticket="t1")) == "unknown_ticket"  # parked at window 1, not 2
    assert hall.code_of(Unpark("1", ticket="nope")) == "unknown_ticket"
    serve(hall)  # A002
    assert hall.code_of(Unpark("1", ticket="t1")) == "invalid_state"  # the window is busy
    assert hall.code_of(CallNumber("2", number="A001")) == "invalid_state"  # a parked case is not 特呼'd
    assert hall.code_of(CancelTicket("t1", check_holder=False)) == "invalid_state"


def test_a_parked_case_left_at_the_end_of_the_day_stays_parked(hall):
    hall.issue("A")
    serve(hall)
    hall.do(Park("1"))
    hall.do(CloseOutDay())
    assert hall.engine.tickets["t1"].status == "parked"


def test_finish_outcomes(hall):
    for _ in range(4):
        hall.issue("A")
    serve(hall)
    (ev,) = hall.do(Finish("1"))
    assert ev.outcome == "done" and ev.note == ""
    serve(hall)
    (ev,) = hall.do(Finish("1", outcome="accepted_pending", note="缺件后补"))
    assert (ev.outcome, ev.note) == ("accepted_pending", "缺件后补")
    serve(hall)
    assert hall.code_of(Finish("1", outcome="failed")) == "invalid_request"  # 办不成 needs a note
    assert hall.code_of(Finish("1", outcome="failed", note="   ")) == "invalid_request"
    assert hall.code_of(Finish("1", outcome="lost")) == "invalid_request"
    assert hall.engine.windows["1"].state == "serving"  # nothing changed
    (ev,) = hall.do(Finish("1", outcome="failed", note="系统故障无法受理"))
    assert ev.outcome == "failed" and hall.engine.tickets["t3"].outcome == "failed"
    hall.call("1")
    hall.do(Start("1"))
    evs = hall.do(CallNext("1"))
    assert evs[0].kind == "ticket_finished" and evs[0].outcome == "done"  # call-next finishes as 办结


def test_outcomes_are_the_halls_own():
    from dataclasses import replace

    h = Hall(replace(HALL, outcomes=("consulted",)))
    h.issue("A")
    h.issue("A")
    serve(h)
    assert h.code_of(Finish("1", outcome="failed", note="x")) == "invalid_request"  # not offered here
    assert h.do(Finish("1", outcome="consulted"))[0].outcome == "consulted"
    serve(h)
    assert h.do(Finish("1", outcome="done"))[0].outcome == "done"  # always an outcome


def test_pause_reasons(hall):
    ev = hall.do(Pause("1", reason="会议"))[-1]
    assert ev.reason == "会议" and hall.engine.window_view("1")["pause_reason"] == "会议"
    hall.do(Resume("1"))
    assert hall.engine.window_view("1")["pause_reason"] is None
    assert hall.code_of(Pause("1", reason="打游戏")) == "invalid_request"
    assert hall.engine.windows["1"].state == "idle"
    assert hall.do(Pause("1"))[0].reason is None  # a pause without a reason is always allowed


def test_transfer_placed_at_the_end_of_the_line(hall):
    hall.issue("A")
    for _ in range(2):
        hall.issue("B")
    hall.call("1")  # A001
    hall.do(Transfer("1", business="B", place="end"))
    hall.issue("B")  # B003 arrives after the transfer
    assert [hall.call("2"), hall.call("4") or hall.call("1")] == ["B001", "B002"]
    hall.do(Finish("2"))
    assert hall.call("2") == "A001"  # behind B001, B002, before B003
    hall.do(Finish("2"))
    assert hall.call("2") == "B003"


def test_transfer_placed_by_issue_time(hall):
    hall.issue("B")  # B001 before A001
    hall.clock.advance(10)
    hall.issue("A")  # A001
    hall.clock.advance(10)
    hall.issue("B")  # B002 after A001
    hall.call("1")  # A001 (window 1 prefers A)
    hall.do(Transfer("1", business="B", place="issued"))
    assert hall.call("2") == "B001"
    hall.do(Finish("2"))
    assert hall.call("2") == "A001"  # its issue time is before B002's
    hall.do(Finish("2"))
    assert hall.call("2") == "B002"


def test_transfer_to_a_window_to_wait_its_turn(hall):
    hall.issue("A")
    hall.clock.advance(10)
    hall.issue("D")
    hall.clock.advance(10)
    hall.issue("A")
    hall.call("4")  # D001 (window 4 prefers D)
    hall.do(Transfer("4", to_window="2", place="issued"))  # window 2 does not serve D
    assert hall.call("2") == "A001"  # issued before D001
    hall.do(Finish("2"))
    assert hall.call("2") == "D001"  # before A002: its issue time is earlier
    hall.do(Finish("2"))
    assert hall.call("2") == "A002"


def test_transfer_place_must_be_known(hall):
    hall.issue("A")
    hall.call("1")
    assert hall.code_of(Transfer("1", business="B", place="middle")) == "invalid_request"


def test_a_transfer_sent_to_the_back_counts_its_wait_again():
    h = Hall()
    h.issue("B")
    h.issue("A")
    h.call("1")  # A001
    h.clock.advance(3700)  # past max wait since its issue
    h.do(Transfer("1", business="B", place="end"))
    h.issue("B")
    assert h.call("2") == "B001"  # B001 is overdue (issued 3700 s ago); A001's time in line restarted
    h.do(Finish("2"))
    assert h.call("2") == "A001"


def test_stop_issuing_then_closes_then_hard_close():
    from dataclasses import replace

    h = Hall(replace(HALL, stop_issuing_minute=16 * 60 + 30, closes_minute=17 * 60, hard_close_minute=19 * 60))
    day = h.engine.calendar.day(h.clock())
    h.issue("A")
    h.issue("A")
    h.clock.now = h.engine.calendar.at(day, 16 * 60 + 30)
    assert h.code_of(IssueTicket("A", "x")) == "closed"  # 取号截止
    assert h.engine.day_phase(h.clock())["text"] == "取号已截止"
    booked = h.issue("A", due_at=h.engine.calendar.at(day, 16 * 60 + 30), appointment="bk")
    assert booked.status == "waiting"  # a booking made earlier still checks in
    h.clock.now = h.engine.calendar.at(day, 17 * 60 + 5)
    assert h.engine.day_phase(h.clock())["phase"] == "extended"  # 延时服务中
    assert h.call("1") == "A001"  # past closing, windows keep calling
    assert h.code_of(IssueTicket("A", "y", due_at=h.clock(), appointment="bk2")) == "closed"  # check-in ended
    h.clock.now = h.engine.calendar.at(day, 19 * 60)
    evs = h.do(CloseOutDay())
    assert [e.kind for e in evs] == ["ticket_cancelled", "ticket_cancelled", "day_closed"]
    assert {h.engine.tickets[t].cancel_reason for t in ("t2", "t3")} == {"day_closed"}
    assert h.engine.tickets["t1"].status == "called"  # the citizen at the window is still served
    assert h.engine.day_phase(h.clock())["phase"] == "closed"
    assert h.do(CloseOutDay()) == []  # once a day


def test_past_closing_with_nobody_left_the_day_is_over():
    from dataclasses import replace

    h = Hall(replace(HALL, closes_minute=17 * 60))
    day = h.engine.calendar.day(h.clock())
    h.issue("A")
    h.clock.now = h.engine.calendar.at(day, 17 * 60 + 1)
    assert h.engine.day_phase(h.clock())["phase"] == "extended"
    h.call("1")
    assert h.engine.day_phase(h.clock())["phase"] == "extended"  # still at the window
    h.do(Finish("1"))
    assert h.engine.day_phase(h.clock())["phase"] == "closed"


def test_service_days_decide_issuing():
    from dataclasses import replace

    from queued.core.workdays import WorkCalendar

    saturday = Clock(Clock().now)
    cal = HallCalendar("Asia/Shanghai")
    while __import__("datetime").date.fromisoformat(cal.day(saturday.now)).weekday() != 5:
        saturday.advance(86400)
    h = Hall()
    h.clock = saturday
    assert h.code_of(IssueTicket("A", "x")) == "closed"  # weekends off by default
    assert h.engine.day_phase(h.clock())["text"] == "今日不对外办理"
    sat = cal.day(saturday.now)
    h = Hall(replace(HALL, days=WorkCalendar(service_days=[sat])))  # 双休日办理 on this Saturday
    h.clock = saturday
    assert h.issue("A").number == "A001"
    h = Hall(replace(HALL, days=WorkCalendar(holidays=[sat], service_days=["sat"])))  # every Saturday, not holidays
    h.clock = saturday
    assert h.code_of(IssueTicket("A", "x")) == "closed"


def test_a_booking_is_not_starved_by_overdue_walk_ins(hall):
    """Under overload every walk-in is past max wait; a booking whose slot has come goes after those
    already overdue at its slot and before the ones who passed the limit later (bounded)."""
    start = hall.clock()
    for _ in range(3):  # in line since 10:00: overdue from 11:00
        hall.issue("A")
    hall.clock.advance(1800)
    for _ in range(3):  # in line since 10:30: overdue from 11:30
        hall.issue("A")
    hall.issue("A", due_at=start + 4500, appointment="bk1", channel="appointment")  # slot 11:15, checked in
    hall.clock.now = start + 4500 + 60  # 11:16: the slot came; A001–A003 were overdue at 11:15
    hall.clock.advance(1800)  # 11:46: A004–A006 are overdue too now
    order = []
    for _ in range(7):
        order.append(hall.call("1"))
        hall.do(Finish("1"))
    assert order == ["A001", "A002", "A003", "A007", "A004", "A005", "A006"]


def test_a_late_booking_keeps_the_usual_order_when_nobody_is_overdue(hall):
    now = hall.clock()
    hall.issue("A", due_at=now - 60, appointment="bk1", channel="appointment")  # slot a minute ago
    hall.issue("A", priority="green")
    assert hall.call("1") == "A002"  # green channel still first: nobody is past max wait
    hall.do(Finish("1"))
    assert hall.call("1") == "A001"


def test_saturation_is_busy_over_open_time_without_pauses(hall):
    hall.issue("A")
    hall.call("1")  # window 1 opens now and calls A001
    hall.do(Start("1"))
    hall.clock.advance(600)
    hall.do(Finish("1"))  # ten minutes' case
    hall.do(Pause("1", reason="会议"))
    hall.clock.advance(1200)  # a 20-minute meeting does not count as open
    hall.do(Resume("1"))
    hall.clock.advance(600)  # ten idle minutes do
    sat = hall.engine.saturation(hall.clock())
    assert sat["windows"]["1"] == {"busy_s": 600.0, "open_s": 1200.0, "saturation": 0.5}
    assert sat["windows"]["2"]["saturation"] is None  # never opened
    assert sat["businesses"]["A"]["saturation"] == 0.5  # window 1 is the only open window serving A
