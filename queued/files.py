"""Files only the daemon's user may read: the database (its -wal and -shm follow its mode: SQLite
creates them with the database file's permissions), backups and the session secret."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("queued.files")

PRIVATE = 0o600


def create_private(path: str | os.PathLike) -> None:
    """Create `path` empty with mode 0600 if it does not exist (before SQLite opens it, so that the
    file and its journals are never readable by others, whatever the umask). An existing file that
    others may read is narrowed to drop those rights, with a warning."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        tighten(p)
        return
    os.close(fd)


def tighten(path: str | os.PathLike) -> None:
    """Drop the rights of "other" users on an existing file (group rights are the operator's)."""
    p = Path(path)
    try:
        mode = stat.S_IMODE(p.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o007 and p.is_file():
        try:
            os.chmod(p, mode & ~0o007)
            log.warning("%s was readable by every user (mode %o); narrowed to %o", p, mode, mode & ~0o007)
        except PermissionError:
            log.warning("%s is readable by every user (mode %o) and cannot be changed by us: chmod o-rwx it", p, mode)
