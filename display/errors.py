"""The display package's errors: one hierarchy, rooted in the daemon's own."""

from queued.errors import QueuedError, StartupError


class DisplayError(QueuedError):
    """Something about screens, the broker link or the embedded broker."""


class BrokerStartError(DisplayError, StartupError):
    """The embedded broker cannot listen where it was told to (the message says what to change)."""

