"""SM2 public-key encryption for the shandong profile, through `snowland-smx` (import `pysmx`).

Why this library (tests/province/test_sm2.py checks it against `gmssl` in both orders): it draws the
ephemeral k from `secrets` (gmssl 3.2 uses `random.choice`, a Mersenne Twister, for k), it checks
C3 when decrypting (gmssl computes it and never compares), and it takes the key as given (gmssl's
`public_key.lstrip("04")` also eats the leading 0/4 digits of x, so one key in eight with the `04`
prefix encrypts to a point nobody can decrypt). It is pure Python: one encryption costs ~9 ms of
CPU, so the daemon runs it in a worker process (`Sm2Worker`), never in the event loop.

Wire form (province.md §2.2): hex of `04 ‖ x1 ‖ y1 ‖ C3 ‖ C2` (C1C3C2, the default) or
`04 ‖ x1 ‖ y1 ‖ C2 ‖ C3` (C1C2C3): C1 as an uncompressed point with its `04`, as BouncyCastle
and the seen examples (`"sign":"04a1…"`) write it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor

from evaluator.province.errors import CryptoError

P = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF", 16)
A = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC", 16)
B = int("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93", 16)
MODES = ("c1c3c2", "c1c2c3")
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def parse_public_key(text: str) -> str:
    """The platform's public key as 128 hex digits (x ‖ y), from 130 (`04…`) or 128 digits.
    Refuses anything that is not a point of the SM2 curve (a wrong key would encrypt garbage)."""
    k = text.strip()
    if len(k) == 130 and k[:2] == "04":
        k = k[2:]
    if len(k) != 128 or not _HEX.match(k):
        raise CryptoError("expected 130 hex digits starting with 04 (or 128: x ‖ y)")
    x, y = int(k[:64], 16), int(k[64:], 16)
    if not (0 < x < P and 0 < y < P) or (y * y - (x * x * x + A * x + B)) % P != 0:
        raise CryptoError("not a point of the SM2 curve")
    return k.lower()


def encrypt(public_key: str, data: bytes, mode: str = "c1c3c2") -> str:
    """SM2-encrypt `data` to the wire form (hex, with the 04 prefix). `public_key`: from parse_public_key."""
    from pysmx.SM2 import Encrypt

    if mode not in MODES:
        raise CryptoError(f"unknown SM2 mode {mode!r}")
    out = Encrypt(data, public_key, 64, mode=mode.upper())
    if out is None:  # the KDF gave all zeros: astronomically rare, and the caller may try again
        raise CryptoError("SM2 encryption failed")
    return "04" + out.hex()


class Sm2Worker:
    """Encryption in one worker process (spawned: the daemon has threads), so a 9 ms pure-Python
    scalar multiplication never holds the loop's GIL. `inline=True` runs in the caller (tools)."""

    def __init__(self, public_key: str, mode: str, inline: bool = False):
        self.public_key = public_key
        self.mode = mode
        self.inline = inline
        self._pool: ProcessPoolExecutor | None = None

    async def encrypt(self, data: bytes) -> str:
        if self.inline:
            return encrypt(self.public_key, data, self.mode)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, encrypt, self.public_key, data, self.mode)
        except CryptoError:
            raise
        except Exception as exc:  # a worker that died: start a new one next time
            self.close()
            raise CryptoError(f"SM2 worker failed: {type(exc).__name__}") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
