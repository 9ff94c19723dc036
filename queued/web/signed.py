"""Signed cookie values shared by the pages that sign people in (/admin, /clerk, /m).

A value is a small JSON payload plus an expiry, signed with HMAC-SHA256 under a per-daemon secret
kept in the `meta` table: sessions survive a restart, a backup restores them, and a new database
invalidates them. Each page keeps its own secret name, so one page's cookie never opens another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def daemon_secret(journal, name: str) -> bytes:
    """The secret `name`, created on first use and kept in `meta` (32 random bytes)."""
    row = await journal.fetchone("SELECT value FROM meta WHERE key=?", (name,))
    if row is None:
        await journal.execute_write("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                    (name, secrets.token_hex(32)))
        row = await journal.fetchone("SELECT value FROM meta WHERE key=?", (name,))
    return bytes.fromhex(row["value"])


class SignedValues:
    """dump(payload, expires_at) → "body.mac"; load(value, now) → the payload, or None when it is
    forged, damaged or expired. Times are passed in (the runtime's clock), so tests can move them."""

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("the signing secret is too short")
        self._secret = secret

    def _mac(self, body: str) -> str:
        return b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def dump(self, payload: dict[str, Any], expires_at: float) -> str:
        data = {**payload, "exp": round(expires_at), "n": secrets.token_hex(4)}
        body = b64(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self._mac(body)}"

    def load(self, value: str | None, now: float) -> dict[str, Any] | None:
        if not value or not value.isascii():  # ours are base64: anything else is no session (and
            return None                        # compare_digest refuses non-ASCII strings)
        body, sep, mac = value.partition(".")
        if not sep or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int | float):
            return None
        return data if data["exp"] > now else None
