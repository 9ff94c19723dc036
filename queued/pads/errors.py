"""The pads adapter's one error type (the core's refusals stay CoreErrors: they are outcomes, not failures)."""

from queued.errors import QueuedError


class PadError(QueuedError):
    """The pads cannot be set up as configured (a bus the configuration cannot serve)."""
