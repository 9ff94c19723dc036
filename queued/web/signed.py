"""Signed values: a small JSON payload plus an expiry, signed with HMAC-SHA256.

The hall's own sessions no longer use these (queued.sessions keeps them on the server, so that
sign-out ends them); the central service's city pages sign their session cookie with it. The caller
brings the key; it must not live where the signed values' readers can take it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignedValues:
    """dump(payload, expires_at) → "body.mac"; load(value, now) → the payload, or None when it is
    forged, damaged or expired. Times are passed in (the runtime's clock), so tests can move them."""

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("the signing secret is too short")
        self._secret = secret

    def _mac(self, body: str) -> str:
        return b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def dump(self, payload: dict[str, Any], expires_at: float) -> str:
        data = {**payload, "exp": round(expires_at), "n": secrets.token_hex(4)}
        body = b64(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self._mac(body)}"

    def load(self, value: str | None, now: float) -> dict[str, Any] | None:
        if not value or not value.isascii():  # ours are base64: anything else is no session (and
            return None                        # compare_digest refuses non-ASCII strings)
        body, sep, mac = value.partition(".")
        if not sep or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int | float):
            return None
        return data if data["exp"] > now else None
