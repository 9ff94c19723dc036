"""Who is signed in: server-side session records for /admin, /clerk, /m and the kiosk (store.py),
the signing secret in a 0600 file beside the database (secret.py), and the cookies (cookies.py).
`app.state.sessions` is the daemon's one SessionStore."""

from queued.sessions.cookies import clear_cookie, set_cookie
from queued.sessions.store import LIFETIME_S, Session, SessionError, SessionStore

__all__ = ["LIFETIME_S", "Session", "SessionError", "SessionStore", "clear_cookie", "set_cookie"]
