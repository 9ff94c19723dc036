"""Server-side sessions of the pages that sign people in: /admin, /clerk, /m and the kiosk.

A cookie carries only `<id>.<mac>`: a random id and its HMAC under a key derived, per kind of
session, from the daemon's secret file (secret.py). The server keeps the session itself (its kind,
the token it came from, window, clerk or openid, expiry) in memory, keyed by the id's SHA-256, and
in the table `sessions` under the same hash, so sessions survive a restart. The table never holds
an id and the secret is not in the database: a copy of the database file cannot make a cookie.

Looking a session up (every request of a signed-in page) is a dict look-up: no I/O. Sign-in and
sign-out write through the journal's writer, inside its next group commit (Journal.write_rows), so
they add no commit of their own in front of the hall's commands. Signing out deletes the record:
a cookie captured before is refused after. Times come from the runtime's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from queued.errors import QueuedError
from queued.journal import projection
from queued.sessions.secret import derive, load_or_create

log = logging.getLogger("queued.sessions")

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key        TEXT PRIMARY KEY,  -- SHA-256 of the cookie's id, never the id
    kind       TEXT NOT NULL,
    token_hash TEXT,
    window     TEXT,
    clerk      TEXT,
    openid     TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_token ON sessions(token_hash);
"""
projection.register_schema(SCHEMA)

# How long each kind lasts (as before server-side sessions) and how many the daemon keeps.
LIFETIME_S = {"admin": 12 * 3600, "clerk": 12 * 3600, "mobile": 30 * 86400, "kiosk": 365 * 86400}
MAX_SESSIONS = {"admin": 10_000, "clerk": 10_000, "mobile": 200_000, "kiosk": 10_000}
SWEEP_EVERY_S = 3600.0
FIELD_MAX = 128
# Secrets of the signed cookies before sessions were server-side; they were kept in `meta`.
OLD_SECRETS = ("admin_session_secret", "clerk_session_secret", "wechat_session_secret")

INSERT = ("INSERT OR REPLACE INTO sessions (key, kind, token_hash, window, clerk, openid, created_at, expires_at)"
          " VALUES (?,?,?,?,?,?,?,?)")
DELETE = "DELETE FROM sessions WHERE key=?"


class SessionError(QueuedError):
    """A session cannot be made from these values (text the database could not store)."""


@dataclass(frozen=True, slots=True)
class Session:
    key: str
    kind: str
    created: float
    expires: float
    token_hash: str | None = None
    window: str | None = None
    clerk: str | None = None
    openid: str | None = None


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _storable(name: str, value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value or len(value) > FIELD_MAX or "\x00" in value:
        raise SessionError(f"session field {name} is empty, too long or not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SessionError(f"session field {name} is not storable text") from None


class SessionStore:
    def __init__(self, journal, database: str, clock: Callable[[], float]):
        self.journal = journal
        self.database = database
        self.clock = clock
        self._keys: dict[str, bytes] = {}
        self._by_kind: dict[str, dict[str, Session]] = {kind: {} for kind in LIFETIME_S}
        self._last_sweep = 0.0
        self.started = False

    # ---- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        secret = load_or_create(self.database)
        self._keys = {kind: derive(secret, f"session:{kind}") for kind in LIFETIME_S}
        now = self.clock()
        await self.journal.write_rows([
            ("DELETE FROM sessions WHERE expires_at <= ?", (now,)),
            ("DELETE FROM sessions WHERE token_hash IN (SELECT hash FROM tokens WHERE revoked=1)", ()),
            (f"DELETE FROM meta WHERE key IN ({','.join('?' * len(OLD_SECRETS))})", OLD_SECRETS),
        ])
        rows = await self.journal.fetchall(
            "SELECT key, kind, token_hash, window, clerk, openid, created_at, expires_at FROM sessions"
            " ORDER BY created_at")
        for r in rows:
            if r["kind"] in self._by_kind:
                self._by_kind[r["kind"]][r["key"]] = Session(
                    r["key"], r["kind"], r["created_at"], r["expires_at"], r["token_hash"], r["window"], r["clerk"],
                    r["openid"])
        self._last_sweep = now
        self.started = True

    def count(self, kind: str) -> int:
        return len(self._by_kind[kind])

    # ---- cookies -------------------------------------------------------------------------------

    def _mac(self, kind: str, sid: str) -> str:
        digest = hmac.digest(self._keys[kind], sid.encode(), "sha256")  # the one-shot C path
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def get(self, kind: str, value: str | None) -> Session | None:
        """The live session a cookie value names, or None (forged, damaged, ended or expired)."""
        if not value or not self.started or len(value) > 200:
            return None
        sid, sep, mac = value.partition(".")
        if not sep or not hmac.compare_digest(mac.encode(), self._mac(kind, sid).encode()):
            return None
        s = self._by_kind[kind].get(_key(sid))
        if s is None:
            return None
        if s.expires <= self.clock():
            self._forget(s)
            fut = self.journal.write_rows([(DELETE, (s.key,))])  # rides on the next commit; nobody waits
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())
            return None
        return s

    # ---- making and ending ---------------------------------------------------------------------

    async def create(self, kind: str, *, token_hash: str | None = None, window: str | None = None,
                     clerk: str | None = None, openid: str | None = None) -> tuple[str, Session]:
        """A new session, durable when this returns: (the cookie's value, the session)."""
        for name, value in (("token_hash", token_hash), ("window", window), ("clerk", clerk), ("openid", openid)):
            _storable(name, value)
        now = self.clock()
        sid = secrets.token_urlsafe(24)
        s = Session(_key(sid), kind, now, now + LIFETIME_S[kind], token_hash, window, clerk, openid)
        rows = [(INSERT, (s.key, kind, token_hash, window, clerk, openid, s.created, s.expires))]
        rows += self._sweep(now)
        rows += self._make_room(kind)
        self._by_kind[kind][s.key] = s
        await self.journal.write_rows(rows)
        return f"{sid}.{self._mac(kind, sid)}", s

    async def end(self, s: Session) -> None:
        """End a session for good (sign-out, a revoked token, another clerk at the window)."""
        self._forget(s)
        await self.journal.write_rows([(DELETE, (s.key,))])

    async def end_cookie(self, kind: str, value: str | None) -> Session | None:
        s = self.get(kind, value)
        if s is not None:
            await self.end(s)
        return s

    def _forget(self, s: Session) -> None:
        self._by_kind[s.kind].pop(s.key, None)

    def _sweep(self, now: float) -> list[tuple[str, tuple]]:
        """Expired sessions leave memory from the oldest (each kind has one lifetime, so insertion
        order is expiry order) and the table, at most once an hour."""
        if now - self._last_sweep < SWEEP_EVERY_S:
            return []
        self._last_sweep = now
        for sessions in self._by_kind.values():
            while sessions:
                first = next(iter(sessions.values()))
                if first.expires > now:
                    break
                del sessions[first.key]
        return [("DELETE FROM sessions WHERE expires_at <= ?", (now,))]

    def _make_room(self, kind: str) -> list[tuple[str, tuple]]:
        """Over the bound, the oldest session of that kind ends (a flood of sign-ins can only push
        out the oldest of its own kind: staff sessions are counted apart from citizens')."""
        sessions = self._by_kind[kind]
        out = []
        while len(sessions) >= MAX_SESSIONS[kind]:
            oldest = next(iter(sessions))
            del sessions[oldest]
            out.append((DELETE, (oldest,)))
        if out:
            log.warning("more than %d %s sessions: the oldest ended", MAX_SESSIONS[kind], kind)
        return out
