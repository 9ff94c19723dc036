"""The hall engine's rules, on the pure core (no I/O): what clerks and citizens would see."""

from __future__ import annotations

import pytest

from queued.core import (
    Business,
    CallNext,
    CallNumber,
    CancelTicket,
    Clerk,
    CloseDay,
    CoreError,
    Engine,
    Finish,
    HallConfig,
    IssueTicket,
    Pause,
    Recall,
    Resume,
    SignIn,
    Skip,
    Start,
    Transfer,
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
    assert (t.status, hall.engine.position(t)) == ("waiting", 1)
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
    assert hall.engine.position(hall.engine.tickets["t2"]) == 1
    assert hall.code_of(CallNumber("2", number="A003")) == "invalid_state"  # window 2 is calling
    assert hall.code_of(CallNumber("4", number="Z999")) == "unknown_ticket"


def test_transfer_to_a_business_waits_again_at_the_front(hall):
    hall.issue("A")
    for _ in range(3):
        hall.issue("B")
    hall.call("1")  # A001
    hall.do(Transfer("1", business="B"))
    t = hall.engine.tickets["t1"]
    assert (t.status, t.business, hall.engine.position(t)) == ("waiting", "B", 1)
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
    # two windows open for A, 300 s assumed per case
    assert [hall.engine.position(t) for t in tickets] == [1, 2, 3, 4]
    assert hall.engine.eta_seconds(tickets[3]) == 4 * 300 // 2
    hall.do(CancelTicket(tickets[1].id, key=tickets[1].rating_key))
    assert [hall.engine.position(t) for t in (tickets[0], tickets[2], tickets[3])] == [1, 2, 3]


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
    hall.do(CloseDay())
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
