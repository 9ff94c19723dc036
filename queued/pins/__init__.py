"""Clerks' PINs: salted scrypt hashes (never the PIN), `queued clerk set-pin`, and the lock-out.

    from queued.pins import verify_pin   # the check itself: see PinBook.verify_pin
"""

from queued.pins.book import PinBook
from queued.pins.errors import BadPin, PinError, PinLocked, WrongPin
from queued.pins.hashing import hash_pin, pin_hash_matches, valid_pin
from queued.pins.store import set_pin


async def verify_pin(app_state, clerk: str, pin: str, address: str, now: float) -> None:
    """`app.state.pins.verify_pin(...)` for callers that hold the app's state (request.app.state)."""
    await app_state.pins.verify_pin(clerk, pin, address, now)


__all__ = ["PinBook", "BadPin", "PinError", "PinLocked", "WrongPin", "hash_pin", "pin_hash_matches",
           "valid_pin", "set_pin", "verify_pin"]
