"""The simulator's errors: a demand or plan file that cannot be used, a history too thin to fit."""

from queued.errors import QueuedError


class SimulateError(QueuedError):
    """A simulation cannot run as asked; the message names the file, the key and the line."""


class DemandError(SimulateError):
    """The demand (or what-if) file is wrong: the message names the key and its line."""


class HistoryError(SimulateError):
    """The hall's database holds too little history for what was asked."""


__all__ = ["SimulateError", "DemandError", "HistoryError"]
