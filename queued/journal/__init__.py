"""The journal: every event appended to SQLite by one writer task, acknowledged only after commit."""

from queued.journal.store import Journal  # noqa: F401
