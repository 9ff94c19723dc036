"""The clerk console's sessions (server-side records, queued.sessions) and when they hold.

A session keeps the window, the clerk (if any) and the hash of the token it came from (if any).
It ends for good when the clerk signs out (退出登录), when its token is revoked (seen within the
token book's 10 s), when its clerk is no longer signed in at its window (another clerk signed in
there, the clerk signed out on a pad, a new hall day began), or after 12 h. Ended means deleted: a
copy of the cookie is refused afterwards, even once the same clerk signs in there again.
"""

from __future__ import annotations

from queued.auth import Principal
from queued.sessions import LIFETIME_S, Session

COOKIE = "queued_clerk"
KIND = "clerk"
SESSION_S = LIFETIME_S[KIND]  # one working day and some


class ClerkSessions:
    def __init__(self, daemon):
        self.daemon = daemon

    @property
    def store(self):
        return self.daemon.app.state.sessions

    async def create(self, window: str, clerk: str | None, token_hash: str | None) -> str:
        value, _ = await self.store.create(KIND, window=window, clerk=clerk, token_hash=token_hash)
        return value

    def session(self, request) -> Session | None:
        return self.store.get(KIND, request.cookies.get(COOKIE))

    async def resolve(self, request) -> Principal | None:
        """The console's cookie as a clerk principal bound to its window, while it still holds."""
        s = self.session(request)
        if s is None:
            return None
        w = self.daemon.runtime.engine.windows.get(s.window)
        holds = w is not None and (s.clerk is None or w.clerk == s.clerk)
        if holds and s.token_hash is not None:
            p = await request.app.state.tokens.principal_by_hash(s.token_hash)
            holds = p is not None and p.role == "clerk" and p.window == s.window
        if not holds:
            await self.store.end(s)
            return None
        return Principal("clerk", s.window, s.clerk, "clerk console")
