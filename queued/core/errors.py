"""The core's errors. Each carries a stable snake_case code; only the web layer maps codes to HTTP."""


class CoreError(Exception):
    """A command was refused; nothing changed."""

    code = "invalid_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownBusiness(CoreError):
    code = "unknown_business"


class UnknownWindow(CoreError):
    code = "unknown_window"


class UnknownTicket(CoreError):
    code = "unknown_ticket"


class UnknownClerk(CoreError):
    code = "unknown_clerk"


class AlreadyWaiting(CoreError):
    code = "already_waiting"


class QuotaExhausted(CoreError):
    code = "quota_exhausted"


class Closed(CoreError):
    code = "closed"


class InvalidState(CoreError):
    code = "invalid_state"


class RecallLimit(CoreError):
    code = "recall_limit"


class NotHolder(CoreError):
    """Only the ticket's holder (its rating key or the WeChat session of its openid) may do this."""

    code = "not_holder"


class NotThisWindow(CoreError):
    """特呼 of a ticket this window neither serves nor was sent."""

    code = "not_this_window"


class BadText(CoreError):
    """A command carries text that cannot be stored (an unpaired surrogate, NUL): refused before any
    decision, so the journal never meets it."""

    code = "bad_request"


class DuplicateCase(CoreError):
    code = "duplicate_case"
