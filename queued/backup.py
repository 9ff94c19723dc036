"""Online backup of the live database: SQLite's backup API copies a consistent snapshot while the
daemon keeps writing.

The copy is taken in one step: the source is read inside one read transaction (in WAL mode that
never blocks the daemon's writer), so it holds exactly what was committed when the step began:
every ticket acknowledged before `queued backup` started is in it. A copy taken in several steps
would restart whenever the daemon commits in between, and under steady load might never finish.
The copy is written to FILE.part, checked, switched to a single self-contained file (no -wal), and
renamed over FILE only then: FILE is whole or absent, never half-written. It is created 0600.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from queued.errors import QueuedError
from queued.files import create_private


def backup(database: str, target: str) -> int:
    """Copy `database` to `target`; returns the number of pages copied."""
    src_path = Path(database)
    if not src_path.is_file():
        raise QueuedError(f"no database at {database} (is [daemon] database or --config right?)")
    dst_path = Path(target)
    if not dst_path.parent.is_dir():
        raise QueuedError(f"no directory {dst_path.parent} for the backup file")
    if dst_path.exists() and dst_path.resolve() == src_path.resolve():
        raise QueuedError("the backup file must not be the live database")
    tmp = dst_path.with_name(dst_path.name + ".part")
    tmp.unlink(missing_ok=True)
    try:
        create_private(tmp)  # a backup holds everything the database does: only its owner reads it
    except OSError as exc:
        raise QueuedError(f"cannot create {tmp}: {exc}") from exc
    try:
        src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise QueuedError(f"cannot open {database}: {exc}") from exc
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.execute("PRAGMA busy_timeout=10000")
            src.backup(dst, pages=-1)  # one step: one snapshot, never restarted by the daemon's commits
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise QueuedError(f"the copy failed its integrity check: {ok}")
            dst.execute("PRAGMA journal_mode=DELETE")  # one file to move around; the daemon sets WAL again
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise QueuedError(f"backup of {database} failed: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    tmp.replace(dst_path)  # the file appears whole or not at all
    return pages

