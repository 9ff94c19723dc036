"""The daemon's signing secret: 32 random bytes in a 0600 file beside the database
(`<database>.secret`), never inside it, so that a copy of the database (a backup on a shared drive)
cannot mint a session cookie. A lost or new secret only signs everyone out."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from queued.errors import StartupError
from queued.files import PRIVATE, tighten

SECRET_BYTES = 32
log = logging.getLogger("queued.sessions")


def secret_path(database: str) -> Path:
    return Path(database + ".secret")


def load_or_create(database: str) -> bytes:
    """The secret beside `database`, created (0600, written whole or not at all) on first use."""
    path = secret_path(database)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return _create(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"cannot read the session secret {path}: {exc}") from exc
    tighten(path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning(
            "%s may be read by other users (mode %o): chmod 600 it", path, stat.S_IMODE(path.stat().st_mode))
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) < SECRET_BYTES:
        raise StartupError(f"the session secret {path} is damaged (expected {SECRET_BYTES * 2} hex digits); "
                           f"delete it to make a new one (everyone is signed out)")
    return raw


def _create(path: Path) -> bytes:
    raw = secrets.token_bytes(SECRET_BYTES)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    try:
        os.write(fd, (raw.hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces a secret another process created meanwhile
    except FileExistsError:
        tmp.unlink()
        return load_or_create(str(path)[: -len(".secret")])
    tmp.unlink()
    return raw


def derive(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose (one cookie kind, one signed value), so no two uses share a key."""
    return hmac.new(secret, b"queued:" + purpose.encode(), hashlib.sha256).digest()
