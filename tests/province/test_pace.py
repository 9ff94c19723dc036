"""The sender yields to the hall: max_rate while the hall is quiet, BUSY_RATE while its journal
takes more than BUSY_EVENTS_S events a second (bench_province.py measures why)."""

from __future__ import annotations

from types import SimpleNamespace

from evaluator.province import sender as sender_module
from evaluator.province.sender import BUSY_EVENTS_S, BUSY_RATE, Sender


def make_sender(max_rate: float = 20.0):
    journal = SimpleNamespace(events_written=0)
    runtime = SimpleNamespace(journal=journal)
    return Sender(runtime, profile=None, settings=SimpleNamespace(max_rate=max_rate, profile="zhejiang")), journal


def test_quiet_hall_full_rate_busy_hall_busy_rate_and_back(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(sender_module.time, "monotonic", lambda: now[0])
    s, journal = make_sender()
    assert s.gap() == 1 / 20
    for _ in range(3):  # a real hall's pace: a few events a second
        now[0] += 1.0
        journal.events_written += 5
        assert s.gap() == 1 / 20 and not s.busy
    now[0] += 1.0
    journal.events_written += int(BUSY_EVENTS_S * 3)  # a kiosk rush, a benchmark
    assert s.gap() == 1 / BUSY_RATE and s.busy
    now[0] += 0.5  # judged once a second: still busy in between
    assert s.gap() == 1 / BUSY_RATE
    now[0] += 0.6
    journal.events_written += 10
    assert s.gap() == 1 / 20 and not s.busy


def test_a_max_rate_below_the_busy_rate_is_kept(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(sender_module.time, "monotonic", lambda: now[0])
    s, journal = make_sender(max_rate=0.5)
    now[0] += 1.0
    journal.events_written += 10_000
    assert s.gap() == 2.0
