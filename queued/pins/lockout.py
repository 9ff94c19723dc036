"""The PIN sign-in's lock-out: per clerk and per client address, in bounded memory.

- Per clerk: MAX_CLERK_FAILURES wrong PINs in a row lock that clerk's PIN sign-in for LOCK_S,
  doubling with each further lock up to MAX_LOCK_S (a success clears it). Only clerks the hall
  knows are counted, so a flood of made-up 工号 adds nothing here and can never push a real
  clerk's count out: this table holds at most one entry per configured clerk.
- Per address: MAX_ADDRESS_FAILURES wrong PINs (for any 工号, real or made up) within ADDRESS_SPAN_S
  lock that address for LOCK_S. The table keeps at most MAX_ADDRESSES addresses; when full, the
  entries that hold nothing are dropped first, then the oldest. Evicting an address only forgets
  that address's own count: it never lifts a clerk's lock.

In memory on purpose: a restart lifts a lock, which a locked-out clerk would ask for anyway, and a
restart cannot be triggered from outside. Times are passed in (the runtime's clock).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

MAX_CLERK_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
ADDRESS_SPAN_S = 900.0
LOCK_S = 300.0
MAX_LOCK_S = 3600.0
MAX_ADDRESSES = 4096


@dataclass(slots=True)
class _Count:
    failures: int = 0
    locked_until: float = 0.0
    locks: int = 0  # consecutive locks, for the doubling
    since: float = 0.0  # first failure of the current span (addresses)


class PinLockout:
    def __init__(self, clerks: Collection[str], max_addresses: int = MAX_ADDRESSES):
        self._known = frozenset(clerks)
        self._clerks: dict[str, _Count] = {}
        self._addresses: dict[str, _Count] = {}
        self.max_addresses = max_addresses

    def sizes(self) -> tuple[int, int]:
        """(clerks, addresses) counted now: bounded by the configured clerks and MAX_ADDRESSES."""
        return len(self._clerks), len(self._addresses)

    def locked_for(self, clerk: str, address: str, now: float) -> tuple[float, str]:
        """Seconds until a PIN may be tried for `clerk` from `address` (0 when it may), and why."""
        a = self._addresses.get(address)
        if a is not None and a.locked_until > now:
            return a.locked_until - now, "address"
        k = self._clerks.get(clerk)
        if k is not None and k.locked_until > now:
            return k.locked_until - now, "clerk"
        return 0.0, ""

    def failed(self, clerk: str, address: str, now: float) -> None:
        if clerk in self._known:
            k = self._clerks.setdefault(clerk, _Count())
            k.failures += 1
            if k.failures >= MAX_CLERK_FAILURES:
                k.locks += 1
                k.failures = 0
                k.locked_until = now + min(MAX_LOCK_S, LOCK_S * 2 ** (k.locks - 1))
        a = self._addresses.get(address)
        if a is None:
            self._make_room(now)
            a = self._addresses[address] = _Count(since=now)
        elif now - a.since > ADDRESS_SPAN_S and a.locked_until <= now:
            a.failures, a.since = 0, now  # an old span: start counting again
        a.failures += 1
        if a.failures >= MAX_ADDRESS_FAILURES:
            a.failures, a.since = 0, now
            a.locked_until = now + LOCK_S

    def succeeded(self, clerk: str) -> None:
        # The address keeps its count: a right PIN for one clerk does not wash away guesses at others.
        self._clerks.pop(clerk, None)

    def forgive(self, address: str) -> None:
        """Take back the failure counted for an attempt that then proved right (PinBook counts
        each attempt before its slow check, so that parallel guesses cannot slip past the limit)."""
        a = self._addresses.get(address)
        if a is not None and a.failures > 0:
            a.failures -= 1

    def _make_room(self, now: float) -> None:
        """When full, shrink to 3/4 in one pass (amortised O(1) per new address under a flood):
        first what holds nothing any more, then the oldest entries."""
        if len(self._addresses) < self.max_addresses:
            return
        keep = self.max_addresses * 3 // 4
        for addr in [addr for addr, a in self._addresses.items()
                     if a.locked_until <= now and now - a.since > ADDRESS_SPAN_S]:
            del self._addresses[addr]
        while len(self._addresses) > keep:
            del self._addresses[next(iter(self._addresses))]
