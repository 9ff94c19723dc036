"""Signed session cookies of the clerk console (the PIN check and its lock-out: queued.pins).

A cookie carries the window, the clerk (if any), the hash of the token it came from (if any) and an
expiry, signed with HMAC-SHA256 under a per-daemon secret kept in the `meta` table (so sessions
survive a restart and a backup restores them). Nothing else is stored: a session ends when it
expires, when its token is revoked, or when its clerk is no longer signed in at its window (another
clerk signed in there, the clerk signed out, or a new hall day began).
"""

from __future__ import annotations

from dataclasses import dataclass

from queued.web.signed import SignedValues, daemon_secret

COOKIE = "queued_clerk"
SECRET_KEY = "clerk_session_secret"
SESSION_S = 12 * 3600  # one working day and some


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
