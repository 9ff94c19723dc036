"""Signed session cookies of the clerk console, and the PIN sign-in's lock-out.

A cookie carries the window, the clerk (if any), the hash of the token it came from (if any) and an
expiry, signed with HMAC-SHA256 under a per-daemon secret kept in the `meta` table (so sessions
survive a restart and a backup restores them). Nothing else is stored: a session ends when it
expires, when its token is revoked, or when its clerk is no longer signed in at its window (another
clerk signed in there, the clerk signed out, or a new hall day began).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "queued_clerk"
SECRET_KEY = "clerk_session_secret"
SESSION_S = 12 * 3600  # one working day and some
MAX_FAILURES = 5  # wrong PINs in a row before a clerk's PIN sign-in is locked
LOCK_S = 300.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    window: str
    clerk: str | None
    token_hash: str | None
    expires: float


class SessionSigner:
    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("the session secret is too short")
        self._secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def dump(self, s: Session) -> str:
        body = _b64(json.dumps({"w": s.window, "c": s.clerk, "t": s.token_hash, "e": round(s.expires),
                                "n": secrets.token_hex(4)}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def load(self, value: str, now: float) -> Session | None:
        """The session in a cookie, or None when it is forged, damaged or expired."""
        body, sep, mac = value.partition(".")
        if not sep or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(_unb64(body))
            s = Session(str(data["w"]), data["c"], data["t"], float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return s if s.expires > now else None


async def load_secret(journal) -> bytes:
    """The daemon's signing secret, created on first use and kept in `meta`."""
    row = await journal.fetchone("SELECT value FROM meta WHERE key=?", (SECRET_KEY,))
    if row is None:
        await journal.execute_write("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                    (SECRET_KEY, secrets.token_hex(32)))
        row = await journal.fetchone("SELECT value FROM meta WHERE key=?", (SECRET_KEY,))
    return bytes.fromhex(row["value"])


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
