"""What the embedded Mosquitto is told: its configuration and the ACL of mqtt.md 1.1 "Access",
written from the hall's configuration at every start (edits by hand are overwritten).

The same rights as `docker/mosquitto/acl`, spelled per account because the daemon knows every
account here: the daemon's links may do anything under the prefix; a display may read the status,
the windows' `led` topics, the board and the calls, and publish only its own `screen/<id>/alive`;
a bridge may publish only its own pads' `event` and `online` and read their `command`.
"""

from __future__ import annotations

import os
from pathlib import Path

from queued.broker.accounts import Account

DISPLAY_READS = ("status", "window/+/led/#", "board", "calls")


def acl_text(accounts: dict[str, Account], prefix: str, hall: str) -> str:
    base = f"{prefix}/{hall}"
    out = ["# Written by queued serve from the hall's configuration (mqtt.md 1.1, Access); edits are lost.", ""]
    for a in accounts.values():
        out.append(f"user {a.name}")
        if a.role == "daemon":
            out.append(f"topic readwrite {prefix}/#")
        elif a.role == "display":
            out += [f"topic read {base}/{t}" for t in DISPLAY_READS]
            out.append(f"topic write {base}/screen/{a.name}/alive")
        else:  # bridge
            for addr in a.addresses:
                out += [f"topic write {base}/pad/{addr}/event", f"topic write {base}/pad/{addr}/online",
                        f"topic read {base}/pad/{addr}/command"]
        out.append("")
    return "\n".join(out)


def conf_text(directory: Path, host: str, port: int) -> str:
    lines = [
        "# Written by queued serve for its embedded broker at every start; edits are lost.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {directory / 'passwd'}",
        f"acl_file {directory / 'acl'}",
        "persistence false",  # the daemon republishes every retained screen after each (re)connect
        # The defaults (1,000 queued, 20 in flight per client) are tight for many gateways after a restart.
        "max_queued_messages 10000",
        "max_inflight_messages 100",
        "set_tcp_nodelay true",  # a call is one small message: send it now
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_timestamp false",
        "connection_messages false",
    ]
    if os.geteuid() == 0:
        # As root Mosquitto would drop to the `mosquitto` user, which cannot read these 0600 files
        # (nor, then, would PR_SET_PDEATHSIG survive the change of user). Run the daemon as its own
        # user (the systemd unit and the image do) and the broker runs as that user too.
        lines.append("user root")
    lines += [
        f"listener {port} {host}",
        "use_username_as_clientid true",  # nobody can take the daemon's client id and push it off
        "max_connections 2000",
        "",
    ]
    return "\n".join(lines)
