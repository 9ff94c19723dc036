"""The supervisor's sign-in on /admin: a signed, HttpOnly, SameSite=Strict session cookie.

A supervisor or admin signs in once with their bearer token; the cookie then carries the hash of
that token and an expiry, signed with HMAC-SHA256 under a per-daemon secret kept in the `meta`
table (sessions survive a restart; a new database invalidates them). Each request looks the token
hash up again, so revoking the token ends its sessions at once. The HTTP API keeps Bearer tokens:
the cookie is consulted only when no Authorization header came (`queued.web.inputs.principal`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from queued.auth import Principal

COOKIE = "queued_admin"
SECRET_KEY = "admin_session_secret"
SESSION_S = 12 * 3600  # a working day and some; signing in again each morning is expected
ROLES = ("supervisor", "admin")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def load_secret(journal) -> bytes:
    """The daemon's signing secret, created on first use and kept in `meta`."""
    row = await journal.fetchone("SELECT value FROM meta WHERE key=?", (SECRET_KEY,))
    if row is None:
        await journal.execute_write("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                    (SECRET_KEY, secrets.token_hex(32)))
        row = await journal.fetchone("SELECT value FROM meta WHERE key=?", (SECRET_KEY,))
    return bytes.fromhex(row["value"])


class AdminSessions:
    def __init__(self, journal, clock):
        self.journal = journal
        self.clock = clock
        self._secret = b""

    async def start(self) -> None:
        self._secret = await load_secret(self.journal)

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def issue(self, token_hash: str) -> str:
        body = _b64(json.dumps({"h": token_hash, "exp": self.clock() + SESSION_S, "n": secrets.token_hex(4)},
                               separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, cookie: str) -> str | None:
        """The token hash a cookie carries, or None when it is forged, damaged or expired."""
        body, sep, mac = cookie.partition(".")
        if not sep or not self._secret or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("h"), str):
            return None
        if not isinstance(data.get("exp"), int | float) or data["exp"] <= self.clock():
            return None
        return data["h"]

    async def principal_of(self, token_hash: str) -> Principal | None:
        row = await self.journal.fetchone(
            "SELECT role, window, clerk, label, revoked FROM tokens WHERE hash=?", (token_hash,))
        if row is None or row["revoked"] or row["role"] not in ROLES:
            return None
        return Principal(row["role"], row["window"], row["clerk"], row["label"] or "")

    async def resolve(self, request) -> Principal | None:
        """The session resolver the web layer asks when a request has no Bearer token."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        h = self.verify(raw)
        return None if h is None else await self.principal_of(h)

    @staticmethod
    def set_cookie(response, value: str) -> None:
        response.set_cookie(COOKIE, value, max_age=SESSION_S, path="/", httponly=True, samesite="strict")

    @staticmethod
    def clear_cookie(response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
