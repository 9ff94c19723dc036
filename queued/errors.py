"""The daemon's errors around the core (configuration, journal, start-up)."""

from queued.core.errors import CoreError


class QueuedError(Exception):
    """Base of the daemon's own errors (the core has its own: CoreError)."""


class ConfigError(QueuedError):
    """The configuration cannot be used; the message names the key and the line."""


class JournalError(QueuedError):
    """The journal cannot be written or read: the daemon must not acknowledge anything more."""


class StartupError(QueuedError):
    """Something the daemon needs at start is missing (a port taken, a broker unreachable)."""


__all__ = ["CoreError", "QueuedError", "ConfigError", "JournalError", "StartupError"]
