"""The central service's errors. Only central/web.py turns them into HTTP."""

from __future__ import annotations


class CentralError(Exception):
    """Base of the central service's errors. `code` and `status` say how the web layer answers."""

    code = "central_error"
    status = 500

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class CentralConfigError(CentralError):
    """central.toml cannot be used (the message names the key)."""

    code = "config"


class BadRequest(CentralError):
    code = "invalid_request"
    status = 422


class Unauthorized(CentralError):
    code = "unauthorized"
    status = 401


class Forbidden(CentralError):
    code = "forbidden"
    status = 403


class NotFound(CentralError):
    code = "not_found"
    status = 404


class CursorAhead(CentralError):
    """The hall says it already shipped more than the central store holds: it must resend."""

    code = "cursor_ahead"
    status = 409


class TooLarge(CentralError):
    code = "too_large"
    status = 413


class JournalBehind(CentralError):
    """The hall's journal holds less than the store already has from it (a restored hall)."""

    code = "journal_behind"
    status = 409
