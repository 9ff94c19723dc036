"""Process limits set at start: the open-file limit, raised toward the hard limit.

Every HTTP connection, screen stream and MQTT client is a file descriptor; a shell's default soft
limit of 1,024 let 1,100 stalled sockets stop `/healthz`. The systemd unit and the compose file
set LimitNOFILE / ulimits too; this covers a daemon started by hand.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("queued")

WANT = 65536
CAP = 1 << 20  # beyond this nothing here needs more, and some libraries size tables by the limit
WARN_BELOW = 4096


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (capped); return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(CAP, WANT if hard == resource.RLIM_INFINITY else hard)
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    if soft != resource.RLIM_INFINITY and soft < WARN_BELOW:
        log.warning("the open-file limit is %d: raise it (systemd LimitNOFILE=65536, docker ulimits nofile) or "
                    "a few hundred slow clients can exhaust it", soft)
    return soft
