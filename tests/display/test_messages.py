"""The pure payload builders: lines per state, seq, flash, GBK, speech, the board's recent calls."""

from __future__ import annotations

from display.messages import ScreenModel, gbk_text, speech
from display.outbox import Outbox
from queued.config import parse_config
from queued.core import commands as c
from queued.core.calendar import HallCalendar
from queued.core.engine import Engine
from tests.support import Clock, hall_toml

EXTRA = '''
[[window]]
id = "9"
businesses = ["A"]
name = "综合窗口"
'''


def setup():
    cfg = parse_config(hall_toml("unused.sqlite3", extra=EXTRA), source="test")
    cal = HallCalendar(cfg.timezone)
    eng = Engine(cfg.hall, cal)
    model = ScreenModel(cfg.hall, "queued", cal.iso)
    return eng, model, Clock().now


def run(eng, model, now, cmd):
    events = eng.execute(cmd, now)
    return model.observe(eng, events)


def test_lines_follow_the_window_through_a_case():
    eng, model, now = setup()
    assert model.led_content(eng, "1")["state"] == "closed"
    run(eng, model, now, c.IssueTicket("A", "t1"))
    ch = run(eng, model, now, c.CallNext("1"))
    assert ch.windows == {"1": True} and ch.board
    assert [call["speech"] for call in ch.calls] == ["请A001号到1号窗口办理"]
    led = model.led(eng, "1", True, now)
    assert (led["state"], led["ticket"], led["business"], led["lines"], led["flash"], led["seq"]) == \
        ("calling", "A001", "A", ["A001", "请到1号窗口"], True, 1)
    assert led["at"] == model.iso(now) and led["at"].endswith("+08:00")
    run(eng, model, now + 5, c.Start("1"))
    led = model.led(eng, "1", True, now + 5)
    assert led["lines"] == ["A001", "正在办理"] and led["flash"] is False and led["seq"] == 2
    run(eng, model, now + 9, c.Finish("1"))
    assert model.led_content(eng, "1")["lines"] == ["1号窗口", "欢迎光临"]
    run(eng, model, now + 10, c.Pause("1"))
    assert model.led_content(eng, "1")["lines"] == ["暂停服务", ""]
    run(eng, model, now + 11, c.Resume("1"))
    run(eng, model, now + 12, c.CloseWindow("1"))
    content = model.led_content(eng, "1")
    assert content["state"] == "closed" and content["ticket"] is None and all(isinstance(x, str) for x in content["lines"])


def test_an_idle_window_with_parked_cases_says_so_until_they_are_called_back():
    eng, model, now = setup()
    for i in range(3):
        run(eng, model, now, c.IssueTicket("A", f"t{i}"))
    run(eng, model, now, c.CallNext("1"))
    run(eng, model, now + 1, c.Start("1"))
    plain = model.led_content(eng, "1")
    assert "parked" not in plain  # no 挂起: the payload is the spec's, byte for byte
    ch = run(eng, model, now + 2, c.Park("1", "缺材料"))
    assert ch.windows == {"1": False}  # 挂起 republishes the window
    content = model.led_content(eng, "1")
    assert (content["state"], content["ticket"], content["parked"]) == ("idle", None, ["A001"])
    assert content["lines"] == ["1号窗口", "挂起 A001"]
    assert gbk_text(content["lines"]).decode("gbk") == "1号窗口\n挂起 A001"
    run(eng, model, now + 3, c.CallNext("1"))
    content = model.led_content(eng, "1")
    assert content["lines"] == ["A002", "请到1号窗口"] and content["parked"] == ["A001"]  # the call comes first
    run(eng, model, now + 4, c.Start("1"))
    run(eng, model, now + 5, c.Park("1"))
    content = model.led_content(eng, "1")
    assert content["lines"] == ["1号窗口", "挂起 2 件"] and content["parked"] == ["A001", "A002"]
    run(eng, model, now + 6, c.Pause("1"))
    assert model.led_content(eng, "1")["lines"] == ["暂停服务", "挂起 2 件"]
    run(eng, model, now + 7, c.Resume("1"))
    first = eng.by_number["A001"].id
    ch = run(eng, model, now + 8, c.Unpark("1", first))
    assert ch.windows == {"1": False}
    content = model.led_content(eng, "1")
    assert content["lines"] == ["A001", "正在办理"] and content["parked"] == ["A002"]
    run(eng, model, now + 9, c.Finish("1"))
    run(eng, model, now + 10, c.Unpark("1", eng.by_number["A002"].id))
    run(eng, model, now + 11, c.Finish("1"))
    content = model.led_content(eng, "1")
    assert content["lines"] == ["1号窗口", "欢迎光临"] and "parked" not in content


def test_named_window_is_spoken_by_its_name():
    eng, model, now = setup()
    run(eng, model, now, c.IssueTicket("A", "t1"))
    ch = run(eng, model, now, c.CallNext("9"))
    assert ch.calls[0]["speech"] == "请A001号到综合窗口办理"
    assert model.led_content(eng, "9")["lines"] == ["A001", "请到综合窗口"]
    assert speech("B012", "12号窗口") == "请B012号到12号窗口办理"


def test_recall_moves_the_ticket_to_the_top_of_the_board_once():
    eng, model, now = setup()
    for i in range(3):
        run(eng, model, now, c.IssueTicket("A", f"t{i}"))
    run(eng, model, now, c.CallNext("1"))
    run(eng, model, now + 1, c.CallNext("2"))
    ch = run(eng, model, now + 2, c.Recall("1"))
    assert ch.calls[0]["kind"] == "recall" and ch.windows == {"1": True}
    board = model.board(eng, now + 2)
    assert [r["ticket"] for r in board["recent"]] == ["A001", "A002"]
    assert board["waiting"] == {"A": 1, "B": 0, "C": 0}


def test_recent_calls_are_rebuilt_after_a_restart():
    eng, model, now = setup()
    run(eng, model, now, c.IssueTicket("A", "t1"))
    run(eng, model, now, c.IssueTicket("B", "t2"))
    run(eng, model, now, c.CallNext("1"))
    run(eng, model, now + 1, c.CallNext("2"))
    fresh = ScreenModel(model.hall, "queued", model.iso)
    fresh.rebuild_recent(eng)
    assert list(fresh.recent) == list(model.recent)


def test_gbk_never_raises():
    assert gbk_text(["A001", "请到3号窗口"]).decode("gbk") == "A001\n请到3号窗口"
    odd = gbk_text(["😀 \u200b𠀀", "第二\n行\r"])
    assert odd.count(b"\n") == 1  # a newline inside a line cannot make a third line
    assert odd.decode("gbk").startswith("?")
    assert gbk_text([]) == b""


def test_outbox_coalesces_state_and_bounds_calls():
    eng, model, now = setup()
    box = Outbox(call_limit=5)
    for i in range(20):
        run(eng, model, now, c.IssueTicket("A", f"t{i}"))
    for i in range(10):
        ch = run(eng, model, now + i, c.CallNext("1") if i % 2 == 0 else c.Skip("1"))
        box.put(ch)
    assert list(box.windows) == ["1"] and box.windows["1"] is True
    assert len(box.calls) == 5 and box.dropped_calls == 0  # five calls, five skips
    for i in range(10, 14):
        box.put(run(eng, model, now + i, c.CallNext("1") if i % 2 == 0 else c.Skip("1")))
    assert len(box.calls) == 5 and box.dropped_calls == 2
    assert [x["ticket"] for x in box.calls] == ["A003", "A004", "A005", "A006", "A007"]
    taken = box.take()
    assert not box and not box.ready.is_set()
    assert len(taken.calls) == 5 and taken.windows == {"1": True} and taken.board
