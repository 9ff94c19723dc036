"""A test-only crash point: `QUEUED_TEST_KILL_AFTER_COMMIT=kind[,kind…]` makes the daemon SIGKILL
itself right after the journal commits a batch holding an event of one of those kinds, before any
listener hears it (no reply, no pad ACK, no follow-up command such as the rating prompt goes out).

Crash tests use it to stop a real `queued serve` at an exact point between two commits, which no
outside `kill -9` can hit reliably. Unset (always, in production) it installs nothing.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence

ENV = "QUEUED_TEST_KILL_AFTER_COMMIT"
log = logging.getLogger("queued.crash_hook")


def install(journal) -> None:
    kinds = {k.strip() for k in os.environ.get(ENV, "").split(",") if k.strip()}
    if not kinds:
        return
    log.warning("%s=%s: this daemon kills itself after committing such an event (tests only)", ENV, ",".join(kinds))

    def after_commit(events: Sequence) -> None:
        if any(getattr(x, "kind", None) in kinds for x in events):
            os.kill(os.getpid(), signal.SIGKILL)

    journal.listeners.insert(0, after_commit)  # before the runtime's dispatch to every listener
