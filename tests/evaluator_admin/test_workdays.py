"""Working days for 差评 deadlines (pure)."""

from datetime import date, timedelta

import pytest

from queued.core.workdays import WorkCalendar


def test_a_friday_plus_five_working_days_is_the_next_friday():
    assert WorkCalendar().add_workdays("2026-09-18", 5) == "2026-09-25"


def test_holidays_are_skipped_and_make_up_days_count():
    cal = WorkCalendar(holidays=["2026-10-01", "2026-10-02"], workdays=["2026-09-27"])
    # Sun 27 (make-up) 28 29 30, Thu 1 and Fri 2 off, the weekend, Mon 5.
    assert cal.add_workdays("2026-09-25", 5) == "2026-10-05"
    assert not cal.is_workday("2026-10-01") and cal.is_workday("2026-09-27") and not cal.is_workday("2026-09-26")


def test_a_weekend_rating_gets_full_working_days():
    assert WorkCalendar().add_workdays("2026-09-19", 1) == "2026-09-21"  # Saturday → Monday


def test_working_days_between():
    assert WorkCalendar().workdays_between("2026-09-18", "2026-09-25") == 5
    assert WorkCalendar().workdays_between("2026-09-25", "2026-09-18") == 0


def test_no_working_day_left_is_an_error():
    start = date(2026, 1, 1)
    every = [(start + timedelta(days=i)).isoformat() for i in range(800)]  # a broken holiday list
    with pytest.raises(ValueError):
        WorkCalendar(holidays=every).add_workdays("2026-01-01", 3)
