"""The embedded broker's errors: one hierarchy, rooted in the daemon's own."""

from queued.errors import QueuedError, StartupError


class BrokerError(QueuedError):
    """Something about the embedded Mosquitto: its files, its process, its accounts."""


class BrokerStartError(BrokerError, StartupError):
    """The embedded broker cannot run (no binary, the port taken): the message says what to change."""


class AccountsError(BrokerError):
    """An accounts file a tool was pointed at is missing, unreadable or holds no fitting account."""
