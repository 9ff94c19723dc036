"""Online backup of the live database (SQLite's backup API copies a consistent snapshot while the
daemon keeps writing)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from queued.errors import QueuedError


def backup(database: str, target: str, pages_per_step: int = 1024) -> int:
    src_path = Path(database)
    if not src_path.exists():
        raise QueuedError(f"no database at {database}")
    dst_path = Path(target)
    if dst_path.resolve() == src_path.resolve():
        raise QueuedError("the backup file must not be the live database")
    tmp = dst_path.with_name(dst_path.name + ".part")
    src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True, timeout=10)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=pages_per_step)
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise QueuedError(f"the copy failed its integrity check: {ok}")
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(dst_path)  # the file appears whole or not at all
    return pages
