"""Errors of the PIN sign-in; the web layer turns them into HTTP (401 and 429)."""

from queued.errors import QueuedError


class PinError(QueuedError):
    """Base of the PIN sign-in's errors."""


class WrongPin(PinError):
    """The 工号 has no PIN, or the PIN does not match. One answer for both: 工号 are not secret,
    but the reply need not confirm which part was wrong."""


class PinLocked(PinError):
    """Too many wrong PINs for this clerk or from this address; `wait_s` until the next try."""

    def __init__(self, wait_s: float, scope: str):
        super().__init__(f"PIN sign-in locked for {wait_s:.0f} s ({scope})")
        self.wait_s = wait_s
        self.scope = scope  # "clerk" or "address"


class BadPin(PinError):
    """A PIN that may not be set (too short, too long, spaces or characters outside ASCII)."""
