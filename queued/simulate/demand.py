"""The demand file: who comes when, how long they take, how clerks work, and the windows' plan.

```toml
opens = "08:30"                    # optional: windows sign in (default: the first arrival slot)
no_show = 0.03                     # share of called tickets whose holder never comes
green_share = 0.02                 # share of tickets in the 绿色通道
slot_minutes = 30                  # length of the last per_hour slot (each other runs to the next key)

[[arrivals]]                       # Poisson within each slot
business = "A"
per_hour = {"08:30" = 40, "09:00" = 65, "12:00" = 20, "13:30" = 50, "17:00" = 0}
# no_show, green_share: per-business overrides

[[bookings]]                       # 分时段预约: mean check-ins per slot (Poisson), slot start = due time
business = "A"
per_slot = {"09:00" = 4, "09:30" = 4}
arrive_early_minutes = [0, 20]     # check-in this long before the slot (uniform)

[service.A]
mean_s = 420
dist = "lognormal"                 # | "exponential" | "fixed"
cv = 0.6                           # lognormal only (exponential is 1, fixed is 0)

[clerks]
walk_s = 20                        # call → citizen at the desk (case time: pads have no 开始 key)
recall_every_s = 30                # a no-show is recalled this often ...
recalls = 2                        # ... this many times, then skipped (过号)

[[plan]]                           # overrides which windows are open when (others: opens → closes)
window = "3"
open = ["08:30-12:00", "13:30-17:30"]   # [] = shut all day; absent = opens → closes
businesses = ["A", "B"]            # default: the hall's [[window]] businesses
pauses = ["10:00-10:15"]
speed = 1.0                        # this clerk's case time ÷ the business's
```

A what-if file (`--what-if`) holds `[hall]` keys (balancing and closing rules), `[[plan]]` and
`[clerks]`; what it names replaces the base's.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from queued.config_schema import SCHEMA, _hhmm, _Lines
from queued.simulate.errors import DemandError

DISTRIBUTIONS = ("lognormal", "exponential", "fixed")
TOP_KEYS = {"opens", "no_show", "green_share", "slot_minutes", "arrivals", "bookings", "service", "clerks", "plan"}
ARRIVAL_KEYS = {"business", "per_hour", "no_show", "green_share"}
BOOKING_KEYS = {"business", "per_slot", "arrive_early_minutes"}
SERVICE_KEYS = {"mean_s", "dist", "cv"}
CLERK_KEYS = {"walk_s", "recall_every_s", "recalls"}
PLAN_KEYS = {"window", "open", "businesses", "pauses", "speed"}
# [hall] keys a what-if may change: what the engine balances and closes by
WHAT_IF_HALL_KEYS = ("max_wait_minutes", "warn_wait_minutes", "closes", "stop_issuing", "hard_close",
                     "appointment_early_minutes", "max_recalls", "default_service_minutes")


@dataclass(frozen=True, slots=True)
class ServiceTime:
    mean_s: float
    dist: str = "lognormal"
    cv: float = 0.6

    @property
    def lognormal_params(self) -> tuple[float, float]:
        """(mu, sigma) of the normal whose exp has this mean and coefficient of variation."""
        sigma2 = math.log1p(self.cv * self.cv)
        return math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2)

    def describe(self) -> str:
        if self.dist == "lognormal":
            return f"对数正态 均值{self.mean_s / 60:.1f}分 cv{self.cv:.2f}"
        return f"{'指数' if self.dist == 'exponential' else '固定'} 均值{self.mean_s / 60:.1f}分"


@dataclass(frozen=True, slots=True)
class Arrivals:
    business: str
    pieces: tuple[tuple[int, int, float], ...]  # (from minute, to minute, tickets per hour)
    no_show: float
    green_share: float

    def expected(self) -> float:
        return sum((b - a) / 60 * r for a, b, r in self.pieces)


@dataclass(frozen=True, slots=True)
class Bookings:
    business: str
    slots: tuple[tuple[int, float], ...]  # (slot start minute, mean check-ins)
    early: tuple[float, float] = (0.0, 20.0)  # minutes before the slot


@dataclass(frozen=True, slots=True)
class ClerkPolicy:
    walk_s: float = 20.0
    recall_every_s: float = 30.0
    recalls: int = 2


@dataclass(frozen=True, slots=True)
class Shift:
    """One window open for a stretch of the day, serving `businesses` (None: as configured)."""

    window: str
    start: int  # minute of the day
    end: int
    businesses: tuple[str, ...] | None = None
    pauses: tuple[tuple[int, int], ...] = ()
    speed: float = 1.0


@dataclass(frozen=True)
class Demand:
    arrivals: tuple[Arrivals, ...]
    bookings: tuple[Bookings, ...] = ()
    service: dict[str, ServiceTime] = field(default_factory=dict)
    clerks: ClerkPolicy = ClerkPolicy()
    plan: tuple[Shift, ...] | None = None  # None: no [[plan]], every window opens → closes
    opens: int | None = None
    source: str = "<demand>"

    def first_minute(self) -> int:
        starts = [p[0] for a in self.arrivals for p in a.pieces if p[2] > 0]
        starts += [m - int(b.early[1]) for b in self.bookings for m, n in b.slots if n > 0]
        return min(starts, default=8 * 60 + 30)

    def last_minute(self) -> int:
        ends = [p[1] for a in self.arrivals for p in a.pieces if p[2] > 0]
        ends += [m for b in self.bookings for m, n in b.slots if n > 0]
        return max(ends, default=17 * 60 + 30)


@dataclass(frozen=True)
class WhatIf:
    """One side of a comparison: [hall] overrides, and a plan or clerk policy replacing the base's."""

    name: str
    hall: dict[str, Any] = field(default_factory=dict)
    plan: tuple[Shift, ...] | None = None
    clerks: ClerkPolicy | None = None

    def apply(self, demand: Demand) -> Demand:
        changes: dict[str, Any] = {}
        if self.plan is not None:
            changes["plan"] = self.plan
        if self.clerks is not None:
            changes["clerks"] = self.clerks
        return replace(demand, **changes) if changes else demand


class _Reader:
    """Checks one TOML document's values and names the key and line of anything wrong."""

    def __init__(self, text: str, source: str):
        self.source = source
        self.lines = _Lines(text)
        try:
            self.raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DemandError(f"{source} is not valid TOML: {exc}") from None

    def fail(self, table: str, index: int, key: str | None, message: str, listed: bool = True) -> DemandError:
        name = (f"{table}[{index}]" if listed else table) if table else ""
        if key:
            name = f"{name}.{key}" if name else key
        line = self.lines.of(table, index, key)
        if line is None and not table and key:  # a whole table at the top level
            line = self.lines.tables.get((key, 0))
        where = f" (line {line})" if line else ""
        return DemandError(f"{self.source}: {name}{where}: {message}")

    def keys(self, raw: Any, allowed: set[str], table: str, index: int = 0, listed: bool = True) -> dict:
        if not isinstance(raw, dict):
            raise self.fail(table, index, None, "expected a table", listed)
        for key in raw:
            if key not in allowed:
                raise self.fail(table, index, key, f"unknown key (known keys: {', '.join(sorted(allowed))})", listed)
        return raw

    def number(self, raw: dict, key: str, table: str, index: int, default: float | None, lo: float, hi: float,
               listed: bool = True, integer: bool = False) -> float:
        value = raw.get(key, default)
        if value is None:
            raise self.fail(table, index, key, "is required", listed)
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or not (lo <= value <= hi) or value != value:
            kind = "an integer" if integer else "a number"
            raise self.fail(table, index, key, f"expected {kind} in {lo:g}..{hi:g}, got {value!r}", listed)
        return value

    def minute(self, value: Any, table: str, index: int, key: str, listed: bool = True) -> int:
        if not isinstance(value, str):
            raise self.fail(table, index, key, f"expected a time \"HH:MM\", got {value!r}", listed)
        try:
            return _hhmm(value.strip())
        except ValueError as exc:
            raise self.fail(table, index, key, str(exc), listed) from None

    def spans(self, value: Any, table: str, index: int, key: str) -> tuple[tuple[int, int], ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(table, index, key, 'expected "HH:MM-HH:MM" or a list of them')
        out = []
        for span in value:
            if not isinstance(span, str) or "-" not in span:
                raise self.fail(table, index, key, f'{span!r} is not "HH:MM-HH:MM"')
            a, _, b = span.partition("-")
            start, end = self.minute(a, table, index, key), self.minute(b, table, index, key)
            if end <= start:
                raise self.fail(table, index, key, f"{span!r} ends before it starts")
            out.append((start, end))
        out.sort()
        for (_, e1), (s2, _) in zip(out, out[1:], strict=False):
            if s2 < e1:
                raise self.fail(table, index, key, "the stretches overlap")
        return tuple(out)

    def codes(self, value: Any, known: set[str], table: str, index: int, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(table, index, key, "expected a non-empty list of business codes")
        for code in value:
            if code not in known:
                raise self.fail(table, index, key, f"unknown business {code!r} (the hall has {', '.join(sorted(known))})")
        if len(set(value)) != len(value):
            raise self.fail(table, index, key, "a business is listed twice")
        return tuple(value)

    def clerks(self, raw: Any) -> ClerkPolicy:
        raw = self.keys(raw, CLERK_KEYS, "clerks", listed=False)
        return ClerkPolicy(
            walk_s=float(self.number(raw, "walk_s", "clerks", 0, 20.0, 0, 600, False)),
            recall_every_s=float(self.number(raw, "recall_every_s", "clerks", 0, 30.0, 1, 600, False)),
            recalls=int(self.number(raw, "recalls", "clerks", 0, 2, 0, 20, False, integer=True)),
        )

    def plan(self, raw: Any, hall, default_span: tuple[int, int]) -> tuple[Shift, ...]:
        if not isinstance(raw, list):
            raise self.fail("plan", 0, None, "must be written [[plan]]", False)
        known = set(hall.business_index)
        shifts: list[Shift] = []
        for i, entry in enumerate(raw):
            entry = self.keys(entry, PLAN_KEYS, "plan", i)
            wid = entry.get("window")
            if not isinstance(wid, str) or not wid or len(wid) > 16:
                raise self.fail("plan", i, "window", "expected a window id (a string)")
            if "businesses" in entry:
                businesses = self.codes(entry["businesses"], known, "plan", i, "businesses")
            elif wid in hall.window_index:
                businesses = None
            else:
                raise self.fail("plan", i, "window", f"window {wid!r} is not in the hall: give its businesses")
            spans = self.spans(entry["open"], "plan", i, "open") if "open" in entry else (default_span,)
            pauses = self.spans(entry.get("pauses", []), "plan", i, "pauses")
            speed = float(self.number(entry, "speed", "plan", i, 1.0, 0.1, 10))
            for a, b in spans:
                inside = tuple((max(a, p), min(b, q)) for p, q in pauses if p < b and q > a)
                shifts.append(Shift(wid, a, b, businesses, inside, speed))
            if not spans:  # `open = []`: planned shut all day
                shifts.append(Shift(wid, 0, 0, businesses))
        by_window: dict[str, list[Shift]] = {}
        for s in shifts:
            by_window.setdefault(s.window, []).append(s)
        for wid, group in by_window.items():
            group.sort(key=lambda s: s.start)
            for x, y in zip(group, group[1:], strict=False):
                if y.start < x.end:
                    raise DemandError(f"{self.source}: plan: window {wid!r} is planned twice at "
                                      f"{y.start // 60:02d}:{y.start % 60:02d}")
        return tuple(shifts)


def _per_time(rd: _Reader, value: Any, table: str, index: int, key: str, hi: float) -> list[tuple[int, float]]:
    if not isinstance(value, dict) or not value:
        raise rd.fail(table, index, key, 'expected a table {"HH:MM" = number, ...}')
    out = []
    for when, n in value.items():
        minute = rd.minute(when, table, index, key)
        if isinstance(n, bool) or not isinstance(n, int | float) or not 0 <= n <= hi or n != n:
            raise rd.fail(table, index, key, f"{when}: expected a number in 0..{hi:g}, got {n!r}")
        out.append((minute, float(n)))
    out.sort()
    return out


def parse_demand(text: str, hall, source: str = "<demand>", closes_minute: int | None = None) -> Demand:
    """Read a demand file against `hall` (businesses and windows must exist)."""
    rd = _Reader(text, source)
    raw = rd.raw
    for key in raw:
        if key not in TOP_KEYS:
            raise rd.fail("", 0, key, f"unknown key (known keys: {', '.join(sorted(TOP_KEYS))})", False)
    known = set(hall.business_index)
    no_show = float(rd.number(raw, "no_show", "", 0, 0.0, 0, 1, False))
    green = float(rd.number(raw, "green_share", "", 0, 0.0, 0, 1, False))
    slot = int(rd.number(raw, "slot_minutes", "", 0, 30, 1, 240, False, integer=True))
    opens = rd.minute(raw["opens"], "", 0, "opens", False) if "opens" in raw else None

    arrivals_raw = raw.get("arrivals", [])
    if not isinstance(arrivals_raw, list) or not arrivals_raw:
        raise DemandError(f"{source}: at least one [[arrivals]] is required")
    arrivals, seen = [], set()
    for i, a in enumerate(arrivals_raw):
        a = rd.keys(a, ARRIVAL_KEYS, "arrivals", i)
        code = a.get("business")
        if code not in known:
            raise rd.fail("arrivals", i, "business", f"unknown business {code!r} (the hall has {', '.join(sorted(known))})")
        if code in seen:
            raise rd.fail("arrivals", i, "business", f"{code!r} has two [[arrivals]]")
        seen.add(code)
        if "per_hour" not in a:
            raise rd.fail("arrivals", i, "per_hour", "is required")
        points = _per_time(rd, a["per_hour"], "arrivals", i, "per_hour", 10_000)
        pieces = []
        for k, (minute, rate) in enumerate(points):
            end = points[k + 1][0] if k + 1 < len(points) else min(minute + slot, 24 * 60 - 1)
            if rate > 0 and end > minute:
                pieces.append((minute, end, rate))
        arrivals.append(Arrivals(code, tuple(pieces),
                                 float(rd.number(a, "no_show", "arrivals", i, no_show, 0, 1)),
                                 float(rd.number(a, "green_share", "arrivals", i, green, 0, 1))))

    bookings = []
    for i, b in enumerate(raw.get("bookings", []) if isinstance(raw.get("bookings", []), list) else [None]):
        b = rd.keys(b, BOOKING_KEYS, "bookings", i)
        code = b.get("business")
        if code not in known:
            raise rd.fail("bookings", i, "business", f"unknown business {code!r}")
        if "per_slot" not in b:
            raise rd.fail("bookings", i, "per_slot", "is required")
        slots = tuple(_per_time(rd, b["per_slot"], "bookings", i, "per_slot", 1000))
        early = b.get("arrive_early_minutes", [0, 20])
        if (not isinstance(early, list) or len(early) != 2 or not all(isinstance(x, int | float) and not isinstance(x, bool)
                                                                      for x in early) or not 0 <= early[0] <= early[1] <= 240):
            raise rd.fail("bookings", i, "arrive_early_minutes", "expected [earliest, latest] minutes, 0 ≤ a ≤ b ≤ 240")
        bookings.append(Bookings(code, slots, (float(early[0]), float(early[1]))))

    service: dict[str, ServiceTime] = {}
    svc_raw = raw.get("service", {})
    if not isinstance(svc_raw, dict):
        raise rd.fail("service", 0, None, "expected [service.CODE] tables", False)
    for code, s in svc_raw.items():
        table = f"service.{code}"
        if code not in known:
            raise rd.fail(table, 0, None, f"unknown business {code!r}", False)
        service[code] = read_service(rd, s, table)

    clerks = rd.clerks(raw["clerks"]) if "clerks" in raw else ClerkPolicy()
    demand = Demand(tuple(arrivals), tuple(bookings), service, clerks, None, opens, source)
    if "plan" in raw:
        span = (opens if opens is not None else demand.first_minute(),
                closes_minute if closes_minute is not None else demand.last_minute())
        demand = replace(demand, plan=rd.plan(raw["plan"], hall, span))
    return demand


def read_service(rd: _Reader, s: Any, table: str) -> ServiceTime:
    s = rd.keys(s, SERVICE_KEYS, table, listed=False)
    dist = s.get("dist", "lognormal")
    if dist not in DISTRIBUTIONS:
        raise rd.fail(table, 0, "dist", f"expected one of {', '.join(DISTRIBUTIONS)}, got {dist!r}", False)
    mean = float(rd.number(s, "mean_s", table, 0, None, 1, 8 * 3600, False))
    cv = float(rd.number(s, "cv", table, 0, 0.6, 0, 5, False))
    if dist == "exponential":
        cv = 1.0
    elif dist == "fixed":
        cv = 0.0
    elif cv == 0:
        dist = "fixed"
    return ServiceTime(mean, dist, cv)


def load_demand(path: str | Path, hall, closes_minute: int | None = None) -> Demand:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DemandError(f"cannot read the demand file {p}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_demand(text, hall, str(p), closes_minute)


def parse_what_if(text: str, hall, source: str, default_span: tuple[int, int]) -> WhatIf:
    """A what-if file: `[hall]` keys from WHAT_IF_HALL_KEYS, `[[plan]]`, `[clerks]`."""
    rd = _Reader(text, source)
    for key in rd.raw:
        if key not in ("hall", "plan", "clerks"):
            raise rd.fail("", 0, key, "unknown key (a what-if file holds [hall], [[plan]] and [clerks])", False)
    hall_raw = rd.raw.get("hall", {})
    if not isinstance(hall_raw, dict):
        raise rd.fail("hall", 0, None, "expected a table [hall]", False)
    for key in hall_raw:
        if key not in WHAT_IF_HALL_KEYS or key not in SCHEMA["hall"]:
            allowed = ", ".join(k for k in WHAT_IF_HALL_KEYS if k in SCHEMA["hall"])
            raise rd.fail("hall", 0, key, f"not a key a what-if may change (these may: {allowed})", False)
    plan = rd.plan(rd.raw["plan"], hall, default_span) if "plan" in rd.raw else None
    clerks = rd.clerks(rd.raw["clerks"]) if "clerks" in rd.raw else None
    return WhatIf(Path(source).stem if source != "<what-if>" else "B", dict(hall_raw), plan, clerks)


def load_what_if(path: str | Path, hall, default_span: tuple[int, int]) -> WhatIf:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DemandError(f"cannot read the what-if file {p}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_what_if(text, hall, str(p), default_span)
