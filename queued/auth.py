"""Bearer tokens: created by `queued token create` (with or without the daemon running), checked by
the web layer. Only a hash is stored; the token is shown once."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

from queued.errors import ConfigError
from queued.files import create_private
from queued.journal.schema import CORE_SCHEMA, PRAGMAS

ROLES = ("kiosk", "desk", "clerk", "integration", "supervisor", "admin")
# What each role may do; `admin` may do everything (http-api.md 1.1, Command line):
# kiosk: issue tickets; desk (导办台): tickets including the green channel and booking check-in;
# integration (the 一窗受理 system): bind 办件 to tickets and read cases, nothing else.
# supervise (extension, docs/admin.md): the supervisor's actions on the live hall — pause/resume any
# window, call a number to a window (特呼: send a ticket there), cancel a waiting ticket — through
# the same commands as the windows' own.
RIGHTS = {
    "kiosk": {"issue"},
    "desk": {"issue", "green", "check_in"},
    "clerk": {"window", "read_hall"},
    "integration": {"cases"},
    "supervisor": {"reports", "reviews", "read_hall", "supervise"},
    "admin": {"issue", "green", "check_in", "cases", "window", "reports", "reviews", "read_hall", "admin",
              "supervise"},
}


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    window: str | None = None
    clerk: str | None = None
    label: str = ""

    def can(self, right: str) -> bool:
        return right in RIGHTS.get(self.role, ())


def _connect(database: str) -> sqlite3.Connection:
    """Plain sqlite3 on the daemon's database (beside a running daemon: WAL), created 0600 if new."""
    create_private(database)
    return sqlite3.connect(database, timeout=10)


def revoke_token(database: str, token_or_prefix: str) -> int:
    """Revoke a token given whole, or by the hash prefix `queued token list` shows. Returns how many."""
    conn = _connect(database)
    try:
        conn.executescript(CORE_SCHEMA)
        with conn:
            if token_or_prefix.startswith("qd_"):
                cur = conn.execute("UPDATE tokens SET revoked=1 WHERE hash=?", (token_hash(token_or_prefix),))
            elif len(token_or_prefix) >= 8:
                cur = conn.execute("UPDATE tokens SET revoked=1 WHERE hash LIKE ? AND revoked=0",
                                   (token_or_prefix + "%",))
                if cur.rowcount > 1:
                    raise ConfigError(f"{token_or_prefix!r} matches {cur.rowcount} tokens; give more of it")
            else:
                raise ConfigError("give the token itself or at least 8 characters of its id (queued token list)")
    finally:
        conn.close()
    return cur.rowcount


def list_tokens(database: str) -> list[tuple]:
    conn = _connect(database)
    try:
        conn.executescript(CORE_SCHEMA)
        return conn.execute("SELECT substr(hash, 1, 12), role, COALESCE(window, ''), COALESCE(clerk, ''),"
                            " COALESCE(label, ''), created_at, revoked FROM tokens ORDER BY created_at").fetchall()
    finally:
        conn.close()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(database: str, role: str, window: str | None = None, clerk: str | None = None,
                 label: str = "", windows: set[str] | None = None, clerks: set[str] | None = None) -> str:
    """Store a new token's hash and return the token. Plain sqlite3: works beside a running daemon (WAL)."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role == "clerk" and not window:
        raise ConfigError("a clerk token is bound to one window: give --window")
    if window is not None and windows is not None and window not in windows:
        raise ConfigError(f"unknown window {window!r}; windows are {', '.join(sorted(windows))}")
    if clerk is not None and clerks is not None and clerk not in clerks:
        raise ConfigError(f"unknown clerk {clerk!r} (not among the configuration's [[clerk]] ids)")
    token = "qd_" + secrets.token_urlsafe(24)
    conn = _connect(database)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.executescript(CORE_SCHEMA)
        with conn:
            conn.execute(
                "INSERT INTO tokens (hash, role, window, clerk, label, created_at) VALUES (?,?,?,?,?,?)",
                (token_hash(token), role, window, clerk, label, time.time()),
            )
    finally:
        conn.close()
    return token


class TokenBook:
    """Looks tokens up in the database, caching what it found for a short while: a token created
    while the daemon runs works at once (a miss asks the database), and one revoked by
    `queued token revoke` (another process) stops working within `ttl_s`."""

    def __init__(self, journal, ttl_s: float = 10.0, clock=time.monotonic):
        self.journal = journal
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def principal(self, token: str) -> Principal | None:
        return await self.principal_by_hash(token_hash(token))

    async def principal_by_hash(self, h: str) -> Principal | None:
        """The same look-up by the token's hash: what a session made from a token keeps."""
        hit = self._cache.get(h)
        now = self.clock()
        if hit is not None and now - hit[1] < self.ttl_s:
            return hit[0]
        row = await self.journal.fetchone("SELECT role, window, clerk, label, revoked FROM tokens WHERE hash=?", (h,))
        if row is None or row["revoked"]:
            self._cache.pop(h, None)
            return None
        p = Principal(row["role"], row["window"], row["clerk"], row["label"] or "")
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[h] = (p, now)
        return p
