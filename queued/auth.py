"""Bearer tokens: created by `queued token create` (with or without the daemon running), checked by
the web layer. Only a hash is stored; the token is shown once."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

from queued.errors import ConfigError
from queued.journal.schema import CORE_SCHEMA, PRAGMAS

ROLES = ("kiosk", "clerk", "supervisor", "admin")
# What each role may do; `admin` may do everything.
RIGHTS = {
    "kiosk": {"issue"},
    "clerk": {"window", "read_hall"},
    "supervisor": {"reports", "reviews", "read_hall"},
    "admin": {"issue", "window", "reports", "reviews", "read_hall", "admin"},
}


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    window: str | None = None
    clerk: str | None = None
    label: str = ""

    def can(self, right: str) -> bool:
        return right in RIGHTS.get(self.role, ())


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
    conn = sqlite3.connect(database, timeout=10)
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
    """Looks tokens up in the database, caching what it found (a token created while the daemon
    runs works at once: a cache miss asks the database)."""

    def __init__(self, journal):
        self.journal = journal
        self._cache: dict[str, Principal | None] = {}

    async def principal(self, token: str) -> Principal | None:
        h = token_hash(token)
        if h in self._cache and self._cache[h] is not None:
            return self._cache[h]
        row = await self.journal.fetchone("SELECT role, window, clerk, label, revoked FROM tokens WHERE hash=?", (h,))
        if row is None or row["revoked"]:
            return None
        p = Principal(row["role"], row["window"], row["clerk"], row["label"] or "")
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[h] = p
        return p

    def forget(self) -> None:
        self._cache.clear()
