"""The one PIN check of the daemon: `await pins.verify_pin(clerk, pin, address, now)`.

Used by the /clerk PIN sign-in and wherever a clerk must prove who they are (signing in at a window
another clerk's PC shows). It asks the lock-out first, then the stored hash (`queued clerk set-pin`,
in the database) or else the config's (hashed when the config was read), and checks it off the
event loop: scrypt takes tens of milliseconds and must never stall the hall's commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from queued.pins.errors import PinLocked, WrongPin
from queued.pins.hashing import pin_hash_matches, valid_pin
from queued.pins.lockout import PinLockout
from queued.pins.store import stored_hash

HASH_WORKERS = 2  # scrypt checks at once; more wait (each is ~16 MiB and a core for ~50 ms)


class PinBook:
    def __init__(self, journal, config_hashes: Mapping[str, str], clerks):
        self.journal = journal
        self._config_hashes = dict(config_hashes)
        self._clerks = frozenset(clerks)
        self.lockout = PinLockout(self._clerks)
        self._hashing = asyncio.Semaphore(HASH_WORKERS)

    async def hash_of(self, clerk: str) -> str | None:
        if clerk not in self._clerks:
            return None  # only configured clerks sign in, whatever the database holds
        return await stored_hash(self.journal, clerk) or self._config_hashes.get(clerk)

    async def verify_pin(self, clerk: str, pin: str, address: str, now: float) -> None:
        """Return when `pin` is `clerk`'s PIN; raise PinLocked (wait first) or WrongPin. The failure
        is counted before the slow check, so parallel guesses cannot slip past the limit."""
        wait, scope = self.lockout.locked_for(clerk, address, now)
        if wait:
            raise PinLocked(wait, scope)
        self.lockout.failed(clerk, address, now)
        stored = await self.hash_of(clerk) if isinstance(clerk, str) else None
        if stored is None or not valid_pin(pin):
            raise WrongPin("wrong clerk id or PIN")
        async with self._hashing:
            ok = await asyncio.to_thread(pin_hash_matches, stored, pin)
        if not ok:
            raise WrongPin("wrong clerk id or PIN")
        self.lockout.succeeded(clerk)
        self.lockout.forgive(address)
