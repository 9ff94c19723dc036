"""Signed session cookies of the clerk console, and the PIN sign-in's lock-out.

A cookie carries the window, the clerk (if any), the hash of the token it came from (if any) and an
expiry, signed with HMAC-SHA256 under a per-daemon secret kept in the `meta` table (so sessions
survive a restart and a backup restores them). Nothing else is stored: a session ends when it
expires, when its token is revoked, or when its clerk is no longer signed in at its window (another
clerk signed in there, the clerk signed out, or a new hall day began).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from queued.web.signed import SignedValues, daemon_secret

COOKIE = "queued_clerk"
SECRET_KEY = "clerk_session_secret"
SESSION_S = 12 * 3600  # one working day and some
MAX_FAILURES = 5  # wrong PINs in a row before a clerk's PIN sign-in is locked
LOCK_S = 300.0


@dataclass(frozen=True, slots=True)
class Session:
    window: str
    clerk: str | None
    token_hash: str | None
    expires: float


class SessionSigner:
    def __init__(self, secret: bytes):
        self._values = SignedValues(secret)

    def dump(self, s: Session) -> str:
        return self._values.dump({"w": s.window, "c": s.clerk, "t": s.token_hash}, s.expires)

    def load(self, value: str, now: float) -> Session | None:
        """The session in a cookie, or None when it is forged, damaged or expired."""
        data = self._values.load(value, now)
        if data is None:
            return None
        try:
            return Session(str(data["w"]), data["c"], data["t"], float(data["exp"]))
        except (KeyError, TypeError, ValueError):
            return None


async def load_secret(journal) -> bytes:
    return await daemon_secret(journal, SECRET_KEY)


class PinGuard:
    """Counts wrong PINs per 工号; after MAX_FAILURES in a row the PIN sign-in waits LOCK_S.
    In memory on purpose: a restart lifts a lock, which a locked-out clerk would ask for anyway."""

    def __init__(self):
        self._failures: dict[str, tuple[int, float]] = {}  # clerk → (count, locked until)

    def locked_for(self, clerk: str, now: float) -> float:
        _, until = self._failures.get(clerk, (0, 0.0))
        return max(0.0, until - now)

    def failed(self, clerk: str, now: float) -> None:
        count, _ = self._failures.get(clerk, (0, 0.0))
        count += 1
        if count >= MAX_FAILURES:
            self._failures[clerk] = (0, now + LOCK_S)
        else:
            self._failures[clerk] = (count, 0.0)
        if len(self._failures) > 10000:  # guessed 工号 must not grow this without bound
            self._failures.clear()

    def succeeded(self, clerk: str) -> None:
        self._failures.pop(clerk, None)


def pin_matches(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
