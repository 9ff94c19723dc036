"""Credentials of the central service: one token per hall (ships events for that hall only) and
supervisor tokens (city reports and pages). Only a hash is stored; the token is shown once.

`queued central token create --hall ID` replaces the hall's live token (the old one is revoked in the
same transaction), so a hall has at most one; `token revoke` ends a token at once for every
instance within the cache's ten seconds.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import asyncpg

from central.errors import BadRequest

ROLES = ("hall", "supervisor")
HALL_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # as the hall's own [hall] id


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    hall: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(conn: asyncpg.Connection, role: str, hall: str | None = None, label: str = "",
                 name: str = "") -> tuple[str, bool]:
    """A new token; for a hall, registers the hall and revokes its previous token. Returns
    (token, replaced an older one)."""
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if (role == "hall") != (hall is not None):
        raise BadRequest("a hall token needs --hall ID; a supervisor token takes none")
    if hall is not None and not HALL_ID.match(hall):
        raise BadRequest("a hall id is 1–32 letters, digits, '-' or '_' (the hall's [hall] id)")
    token = "qc_" + secrets.token_urlsafe(24)
    async with conn.transaction():
        replaced = False
        if hall is not None:
            await conn.execute("INSERT INTO halls (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE"
                               " SET name = CASE WHEN $2 = '' THEN halls.name ELSE $2 END", hall, name)
            status = await conn.execute("UPDATE tokens SET revoked_at = now() WHERE hall = $1 AND role = 'hall'"
                                        " AND revoked_at IS NULL", hall)
            replaced = status != "UPDATE 0"
        await conn.execute("INSERT INTO tokens (hash, role, hall, label) VALUES ($1, $2, $3, $4)",
                           token_hash(token), role, hall, label)
    return token, replaced


async def revoke(conn: asyncpg.Connection, token_or_id: str) -> int:
    if token_or_id.startswith("qc_"):
        status = await conn.execute("UPDATE tokens SET revoked_at = now() WHERE hash = $1 AND revoked_at IS NULL",
                                    token_hash(token_or_id))
    elif len(token_or_id) >= 8 and re.fullmatch(r"[0-9a-f]+", token_or_id):
        n = await conn.fetchval("SELECT count(*) FROM tokens WHERE hash LIKE $1 || '%' AND revoked_at IS NULL",
                                token_or_id)
        if n > 1:
            raise BadRequest(f"{token_or_id!r} matches {n} tokens; give more of it")
        status = await conn.execute("UPDATE tokens SET revoked_at = now() WHERE hash LIKE $1 || '%'"
                                    " AND revoked_at IS NULL", token_or_id)
    else:
        raise BadRequest("give the token itself or at least 8 characters of its id (queued central token list)")
    return int(status.split()[-1])


async def listing(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT substr(hash, 1, 12) AS id, role, COALESCE(hall, '') AS hall, label, created_at,"
                            " revoked_at FROM tokens ORDER BY created_at")


class TokenBook:
    """Token → principal with a short cache: a new token works at once (a miss asks the database),
    a revoked one stops within `ttl_s` on every instance."""

    def __init__(self, pool: asyncpg.Pool, ttl_s: float = 10.0, clock=time.monotonic):
        self.pool = pool
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def principal(self, token: str) -> Principal | None:
        if len(token) > 200:
            return None
        h = token_hash(token)
        now = self.clock()
        hit = self._cache.get(h)
        if hit is not None and now - hit[1] < self.ttl_s:
            return hit[0]
        row = await self.pool.fetchrow("SELECT role, hall FROM tokens WHERE hash = $1 AND revoked_at IS NULL", h)
        if row is None:
            self._cache.pop(h, None)
            return None
        p = Principal(row["role"], row["hall"])
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[h] = (p, now)
        return p
