"""The supervisor's sign-in on /admin: a signed, HttpOnly, SameSite=Strict session cookie.

A supervisor or admin signs in once with their bearer token; the cookie then carries the hash of
that token and an expiry, signed with HMAC-SHA256 under a per-daemon secret kept in the `meta`
table (sessions survive a restart; a new database invalidates them). Each request looks the token
hash up again, so revoking the token ends its sessions at once. The HTTP API keeps Bearer tokens:
the cookie is consulted only when no Authorization header came (`queued.web.inputs.principal`).
"""

from __future__ import annotations

from queued.auth import Principal
from queued.web.signed import SignedValues, daemon_secret

COOKIE = "queued_admin"
SECRET_KEY = "admin_session_secret"
SESSION_S = 12 * 3600  # a working day and some; signing in again each morning is expected
ROLES = ("supervisor", "admin")


class AdminSessions:
    def __init__(self, journal, clock):
        self.journal = journal
        self.clock = clock
        self._values: SignedValues | None = None

    async def start(self) -> None:
        self._values = SignedValues(await daemon_secret(self.journal, SECRET_KEY))

    def issue(self, token_hash: str) -> str:
        return self._values.dump({"h": token_hash}, self.clock() + SESSION_S)

    def verify(self, cookie: str) -> str | None:
        """The token hash a cookie carries, or None when it is forged, damaged or expired."""
        data = self._values.load(cookie, self.clock()) if self._values is not None else None
        h = data.get("h") if data else None
        return h if isinstance(h, str) else None

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
