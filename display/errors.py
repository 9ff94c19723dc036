"""The display package's errors: one hierarchy, rooted in the daemon's own."""

from queued.errors import QueuedError


class DisplayError(QueuedError):
    """Something about screens or the broker link (the embedded broker's errors are queued.broker's)."""

