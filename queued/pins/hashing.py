"""Salted PIN hashes with the standard library's scrypt.

A stored hash reads `scrypt$<log2 n>$<r>$<p>$<salt>$<key>` (base64 salt and key), so the cost can be
raised later without breaking hashes already stored. A PIN is short: no hash makes a 4-digit PIN
safe against someone who has the hash and time; the cost only makes each guess expensive, the
lock-out (lockout.py) stops guessing online, and the database's 0600 mode keeps the hashes away.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

# `queued clerk set-pin`: ~50 ms and 16 MiB per hash here; a sign-in is rare, a guess should not be.
STORED_LOG2_N = 14
# PINs written in the config file ([[clerk]] pin, the demo hall's): the file holds the PIN in plain
# text next to the daemon anyway, so the hash only keeps the plain text out of memory; a cheap cost
# keeps start-up and every CLI command that reads the config fast.
CONFIG_LOG2_N = 10
R, P = 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MAXMEM = 64 * 1024 * 1024

PIN_RULE = re.compile(r"[\x21-\x7e]{4,64}")  # printable ASCII, no spaces: what a PIN pad or keyboard types
PIN_RULE_TEXT = "4–64 printable ASCII characters without spaces (digits are usual)"


def valid_pin(pin: object) -> bool:
    return isinstance(pin, str) and PIN_RULE.fullmatch(pin) is not None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_pin(pin: str, log2_n: int = STORED_LOG2_N) -> str:
    """A new salted hash of `pin` (which must satisfy valid_pin)."""
    if not valid_pin(pin):
        raise ValueError(f"a PIN is {PIN_RULE_TEXT}")
    salt = os.urandom(SALT_BYTES)
    key = hashlib.scrypt(pin.encode(), salt=salt, n=1 << log2_n, r=R, p=P, maxmem=MAXMEM, dklen=KEY_BYTES)
    return f"scrypt${log2_n}${R}${P}${_b64(salt)}${_b64(key)}"


def looks_like_hash(stored: str) -> bool:
    return _parse(stored) is not None


def _parse(stored: str):
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    # Bounds: a damaged or planted row must not make one check take minutes or gigabytes.
    if not (1 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4 and salt and len(key) >= 16):
        return None
    if 128 * r * (1 << log2_n) * 2 > MAXMEM:
        return None
    return log2_n, r, p, salt, key


def pin_hash_matches(stored: str, pin: str) -> bool:
    """Whether `pin` is the PIN `stored` was made from. Slow on purpose (see STORED_LOG2_N): call it
    off the event loop. A malformed hash or PIN never matches."""
    parsed = _parse(stored)
    if parsed is None or not valid_pin(pin):
        return False
    log2_n, r, p, salt, key = parsed
    got = hashlib.scrypt(pin.encode(), salt=salt, n=1 << log2_n, r=r, p=p, maxmem=MAXMEM, dklen=len(key))
    return hmac.compare_digest(got, key)
