"""The hall as the engine sees it: businesses, windows, clerks and the rules that vary by hall.

These are plain values built by `queued.config` from the TOML file (or the demo hall).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from queued.core.workdays import WorkCalendar

# Outcomes of a case at 办结 (http-api.md, finish): the known names and how people say them.
OUTCOME_TEXT = {
    "done": "办结",
    "accepted_pending": "容缺受理",
    "returned": "退件",
    "consulted": "咨询",
    "failed": "办不成",
}
DEFAULT_PAUSE_REASONS = ("会议", "就餐", "临时离岗", "业务咨询", "其他")


@dataclass(frozen=True, slots=True)
class Business:
    code: str  # also the ticket prefix
    name: str
    daily_cap: int | None = None
    # Issuing hours as (start_minute, end_minute) of the hall day; empty = always open.
    hours: tuple[tuple[int, int], ...] = ()

    def is_open(self, minute: int) -> bool:
        if not self.hours:
            return True
        return any(start <= minute < end for start, end in self.hours)

    def hours_text(self) -> str:
        return ", ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in self.hours)


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    businesses: tuple[str, ...]  # earlier = preferred when several wait
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or f"{self.id}号窗口"


@dataclass(frozen=True, slots=True)
class Clerk:
    id: str  # 工号
    name: str
    stars: int = 5


@dataclass(frozen=True, slots=True)
class HallConfig:
    id: str
    name: str
    businesses: tuple[Business, ...]
    windows: tuple[Window, ...]
    clerks: tuple[Clerk, ...] = ()
    reasons: tuple[str, ...] = ("服务态度差", "办事效率低", "一次告知不清", "多次跑腿", "流程繁琐", "其他")
    max_wait_s: float = 3600.0
    warn_wait_s: tuple[float, float] = (1800.0, 2700.0)
    # The end of the day (当日业务不留号), minutes of the hall day; None = no such limit.
    stop_issuing_minute: int | None = None  # 取号截止: no new numbers from then on
    closes_minute: int | None = None  # scheduled closing: windows keep serving what waits (延时服务)
    hard_close_minute: int | None = None  # what still waits then is closed out (留号, reported)
    pause_reasons: tuple[str, ...] = DEFAULT_PAUSE_REASONS
    outcomes: tuple[str, ...] = tuple(OUTCOME_TEXT)  # offered at 办结; `done` is allowed whether listed or not
    days: WorkCalendar = field(default_factory=WorkCalendar)  # working and service days: the one calendar
    max_recalls: int = 5
    default_service_s: float = 300.0  # service time assumed before any case was measured
    appointment_early_s: float = 600.0  # a checked-in appointment is due this long before its slot
    business_index: dict[str, Business] = field(default_factory=dict, compare=False, repr=False)
    window_index: dict[str, Window] = field(default_factory=dict, compare=False, repr=False)
    clerk_index: dict[str, Clerk] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.business_index.update((b.code, b) for b in self.businesses)
        self.window_index.update((w.id, w) for w in self.windows)
        self.clerk_index.update((c.id, c) for c in self.clerks)

    @property
    def issuing_ends_minute(self) -> int | None:
        """When issuing stops: `stop_issuing`, or the scheduled closing when no stop is set."""
        return self.stop_issuing_minute if self.stop_issuing_minute is not None else self.closes_minute

    def outcome_by_position(self, index: int) -> str | None:
        """A pad's FINISH ARG: 0 is `done`, n the n-th of `[hall] outcomes`."""
        if index == 0:
            return "done"
        if 1 <= index <= len(self.outcomes):
            return self.outcomes[index - 1]
        return None

    def windows_serving(self, business: str) -> list[Window]:
        return [w for w in self.windows if business in w.businesses]

    def business_by_position(self, index: int) -> Business | None:
        """Business number `index` (1-based) in the hall's list, as pads name them for 转移."""
        if 1 <= index <= len(self.businesses):
            return self.businesses[index - 1]
        return None
