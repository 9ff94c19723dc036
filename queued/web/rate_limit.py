"""Rate limits of what citizens do without a staff token: take a number, book a slot, sign in (demo).

Each limit is a GCRA bucket ("at most N per period": N at once, then one each period/N) per key, a
WeChat session's openid or a client address. A request is charged to every bucket that applies
(its session and its address) only when all of them allow it, so a refused request (429
`rate_limited`) costs nothing and changes nothing. Staff tokens (kiosk, desk, clerk, admin) are
not limited here: a kiosk issues for a whole hall.

Memory is bounded: each bucket table keeps at most `max_tracked` keys in an OrderedDict ordered
by last use. A key whose bucket is full again (its theoretical arrival time has passed) holds
nothing and is dropped when room is needed, oldest first, so dropping never lifts anyone's limit.
When the table is full of live keys (a flood of addresses or sessions), every new key shares one
overflow bucket with the same limit: a flood can slow down newcomers while it lasts, never reset
a key that is already limited, never grow memory. O(1) per request (amortised), no I/O; times come
from the runtime's clock.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass

from queued.web.errors import ApiError

MAX_TRACKED = 10_000
OVERFLOW = object()  # the key of the shared bucket of newcomers while a table is full


class Bucket:
    """At most `count` per `period_s` per key (GCRA: `count` at once, then one per period/count)."""

    def __init__(self, count: int, period_s: float, max_tracked: int = MAX_TRACKED):
        self.count = count
        self.interval = period_s / count if count > 0 else 0.0
        self.tolerance = self.interval * (count - 1)
        self.max_tracked = max_tracked
        self._tat: OrderedDict[object, float] = OrderedDict()  # key → theoretical arrival time
        self._overflow_tat = 0.0

    @property
    def enabled(self) -> bool:
        return self.count > 0

    def __len__(self) -> int:
        return len(self._tat)

    def _slot(self, key: object, now: float) -> object:
        """The key itself when it is tracked or there is room for it; OVERFLOW otherwise."""
        tat = self._tat
        if key in tat:
            return key
        while tat and len(tat) >= self.max_tracked:
            oldest, t = next(iter(tat.items()))
            if t > now:
                return OVERFLOW  # the least recently charged key still holds a limit: the table is full
            tat.popitem(last=False)
        return key

    def wait(self, key: object, now: float) -> float:
        """Seconds until `key` may be charged again (0: now)."""
        if not self.enabled:
            return 0.0
        slot = self._slot(key, now)
        t = self._overflow_tat if slot is OVERFLOW else self._tat.get(slot, now)
        return max(0.0, max(t, now) - now - self.tolerance)

    def charge(self, key: object, now: float) -> None:
        if not self.enabled:
            return
        slot = self._slot(key, now)
        if slot is OVERFLOW:
            self._overflow_tat = max(self._overflow_tat, now) + self.interval
            return
        self._tat[slot] = max(self._tat.get(slot, now), now) + self.interval
        self._tat.move_to_end(slot)


@dataclass(frozen=True)
class Action:
    what: str  # in the message: 取号, 预约, 登录
    per_session: Bucket
    per_address: Bucket


class RateLimits:
    """The limits of one daemon (`app.state.rate_limits`), from `[limits]` (docs/security.md)."""

    def __init__(self, settings: dict, clock):
        period = float(settings["period_minutes"]) * 60
        tracked = settings["max_tracked"]
        self.clock = clock
        self.refused = {"issue": 0, "book": 0, "sign_in": 0}
        self.actions = {
            "issue": Action("取号", Bucket(settings["issue_per_session"], period, tracked),
                            Bucket(settings["issue_per_address"], period, tracked)),
            "book": Action("预约", Bucket(settings["book_per_session"], period, tracked),
                           Bucket(settings["book_per_address"], period, tracked)),
            "sign_in": Action("登录", Bucket(0, period, tracked),
                              Bucket(settings["sign_in_per_address"], period, tracked)),
        }

    def take(self, action: str, address: str | None, session: str | None) -> None:
        """Charge one `action` to the session and the address, or raise 429 and charge nothing."""
        a = self.actions[action]
        now = self.clock()
        pairs = [(a.per_address, address or "?")]
        if session is not None:
            pairs.append((a.per_session, session))
        wait = max(bucket.wait(key, now) for bucket, key in pairs)
        if wait > 0:
            self.refused[action] += 1
            raise RateLimited(a.what, wait)
        for bucket, key in pairs:
            bucket.charge(key, now)

    def sizes(self) -> dict[str, int]:
        return {f"{name}_{kind}": len(getattr(a, f"per_{kind}")) for name, a in self.actions.items()
                for kind in ("session", "address")}


class RateLimitCollector:
    """`queued_rate_limited_total{action}` and the keys each limit remembers, for /metrics."""

    def __init__(self, limits: RateLimits):
        self.limits = limits

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        refused = CounterMetricFamily("queued_rate_limited", "Requests refused 429 by a rate limit", labels=["action"])
        for action, n in self.limits.refused.items():
            refused.add_metric([action], n)
        yield refused
        tracked = GaugeMetricFamily("queued_rate_limit_keys", "Keys a rate limit remembers (at most max_tracked)",
                                    labels=["limit"])
        for name, n in self.limits.sizes().items():
            tracked.add_metric([name], n)
        yield tracked


class RateLimited(ApiError):
    def __init__(self, what: str, wait_s: float):
        minutes = max(1, math.ceil(wait_s / 60))
        super().__init__("rate_limited", f"{what}过于频繁，请 {minutes} 分钟后再试。", 429)
        self.headers = {"Retry-After": str(max(1, math.ceil(wait_s)))}


def limit_settings(config) -> dict:
    """`[limits]` of the configuration, the schema's defaults where a Config was built without it."""
    from queued.config_schema import SCHEMA

    out = {key: default for key, (_, default) in SCHEMA["limits"].items()}
    out.update(config.sections.get("limits") or {})
    return out


def client_address(request) -> str:
    """The key of the caller's address: IPv4 as it is, IPv6 by its /64 (one subscriber's network).
    Anything else (only a trusted proxy's X-Forwarded-For can say something else) shares one key."""
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "?"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False).network_address) + "/64"
    return str(ip)
