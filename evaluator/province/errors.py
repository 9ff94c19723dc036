"""The provincial push's errors. Only the web layer (evaluator/province/routes.py) turns them into HTTP."""

from queued.errors import ConfigError, QueuedError


class ProvinceError(QueuedError):
    """Base of the provincial push's own errors."""


class ProvinceConfigError(ProvinceError, ConfigError):
    """[province] cannot be used: the message names the key and its line."""


class CryptoError(ProvinceError):
    """An SM2 key or ciphertext is unusable (never carries the plaintext)."""


class RepushRefused(ProvinceError):
    """A re-push asked for a record that cannot be sent again (delivered, or still on its way)."""


class UnknownRecord(ProvinceError):
    """No outbox record with that id."""
