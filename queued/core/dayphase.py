"""The hall's day in phases (当日业务不留号), from the hall's times and what still waits.

open      issuing as usual (within each business's hours)
stopped   取号已截止: `stop_issuing` has passed; windows serve what waits, bookings still check in
extended  延时服务中: past `closes`, windows keep calling and serving what waits
closed    今日服务已结束: past `closes` with nothing left, or past `hard_close`
off       not a service day of the hall's calendar (weekend, holiday): no issuing, no bookings

Pure: minutes of the hall day and the day's string come in; nothing reads a clock.
"""

from __future__ import annotations

from queued.core.hall import HallConfig

PHASES = ("open", "stopped", "extended", "closed", "off")
PHASE_TEXT = {
    "open": "正常办理",
    "stopped": "取号已截止",
    "extended": "延时服务中",
    "closed": "今日服务已结束",
    "off": "今日不对外办理",
}


def phase(hall: HallConfig, day: str, minute: int, closed_out: bool, busy: bool) -> str:
    """The phase at `minute` of `day`. `closed_out`: the day was closed at `hard_close` already;
    `busy`: someone still waits or is at a window."""
    if not hall.days.is_service_day(day):
        return "off"
    if closed_out or (hall.hard_close_minute is not None and minute >= hall.hard_close_minute):
        return "closed"
    if hall.closes_minute is not None and minute >= hall.closes_minute:
        return "extended" if busy else "closed"
    ends = hall.issuing_ends_minute
    if ends is not None and minute >= ends:
        return "stopped"
    return "open"


def issuing_open(p: str) -> bool:
    return p == "open"


def hhmm(minute: int | None) -> str | None:
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"
