"""The supervisor's sign-in on /admin: a server-side session (queued.sessions) behind an HttpOnly,
SameSite=Strict cookie that carries only the session's id.

A supervisor or admin signs in once with their bearer token; the session keeps the token's hash.
Each request asks the token book again (cached at most 10 s, as for bearer tokens), so revoking
the token (`queued token revoke`) ends its sessions within 10 s; signing out deletes the session,
so a cookie captured before is refused after. The HTTP API keeps Bearer tokens: the cookie is
consulted only when no Authorization header came (`queued.web.inputs.principal`).
"""

from __future__ import annotations

from queued.auth import Principal
from queued.sessions import LIFETIME_S, clear_cookie, set_cookie

COOKIE = "queued_admin"
KIND = "admin"
SESSION_S = LIFETIME_S[KIND]  # 12 h: a working day and some; signing in again each morning is expected
ROLES = ("supervisor", "admin")


class AdminSessions:
    def __init__(self, daemon):
        self.daemon = daemon

    @property
    def store(self):
        return self.daemon.app.state.sessions

    async def issue(self, token_hash: str) -> str:
        """A new session for the token with this hash; the cookie's value."""
        value, _ = await self.store.create(KIND, token_hash=token_hash)
        return value

    async def resolve(self, request) -> Principal | None:
        """The session resolver the web layer asks when a request has no Bearer token."""
        s = self.store.get(KIND, request.cookies.get(COOKIE))
        if s is None:
            return None
        p = await request.app.state.tokens.principal_by_hash(s.token_hash)
        if p is None or p.role not in ROLES:
            await self.store.end(s)  # the token was revoked: the session is over for good
            return None
        return p

    async def end(self, request) -> None:
        await self.store.end_cookie(KIND, request.cookies.get(COOKIE))

    def set_cookie(self, response, request, value: str) -> None:
        set_cookie(response, request, self.daemon.config.public_url, COOKIE, value, SESSION_S)

    def clear_cookie(self, response, request) -> None:
        clear_cookie(response, request, self.daemon.config.public_url, COOKIE)
