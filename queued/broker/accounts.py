"""The embedded broker's accounts (mqtt.md 1.1, "Access"): the daemon's two links, the hall's
displays, and one per remote pad bridge; their passwords and Mosquitto's password file.

Passwords are generated once and kept in `accounts.json` in the broker's directory beside the
database (`<database stem>-mqtt/`, 0700, files 0600), so a gateway configured with its password
keeps working across restarts; an account the configuration no longer implies (a bridge whose bus
was removed) is dropped. Tools on the same host (`queued led-sim`, the bridge) read their account
from that file. Mosquitto's own password file holds only PBKDF2-SHA512 hashes (its `$7$` format).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from queued.broker.errors import AccountsError, BrokerError

DAEMON = "queued"  # the screens' link: publishes everything under the prefix
DAEMON_PADS = "queued-pads"  # the remote pads' link (a persistent session of its own)
RESERVED = (DAEMON, DAEMON_PADS)
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a screen id is a topic level and a user name
ITERATIONS = 1000
ACCOUNTS_FILE = "accounts.json"


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: str  # "daemon", "display" or "bridge"
    password: str
    addresses: tuple[int, ...] = ()  # a bridge's pads


def broker_dir(database: str | os.PathLike) -> Path:
    db = Path(database)
    return db.parent / f"{db.stem}-mqtt"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:48]


def planned(config) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, role, addresses) of every account the configuration implies, in a stable order."""
    out = [(DAEMON, "daemon", ()), (DAEMON_PADS, "daemon", ())]
    displays = ["led-sim", "board", "announcer", *(f"led-{_slug(w.id)}" for w in config.hall.windows), *config.embedded_mqtt_screens]
    for name in dict.fromkeys(displays):  # keep order, drop repeats
        if ID.match(name) and name not in RESERVED:
            out.append((name, "display", ()))
    remote = [port for port, bus in config.buses.items() if bus.get("remote")]
    taken = {name for name, _, _ in out}
    for i, port in enumerate(remote, 1):
        name = f"bridge-{_slug(port) or i}"
        if name in taken:
            name = f"bridge-{i}"
        taken.add(name)
        addresses = tuple(sorted(p.address for p in config.pads if p.port == port))
        out.append((name, "bridge", addresses))
    return out


def _password() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """Mosquitto 2's password-file hash: $7$iterations$salt$PBKDF2-SHA512, both in base64."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (0600) through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an old file of that name keeps its mode otherwise
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def private_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise BrokerError(f"cannot create the embedded broker's directory {path}: {exc.strerror or exc}") from exc
    return path


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AccountsError(f"{path}: cannot read the broker's accounts: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise AccountsError(f"{path}: not an accounts file written by queued")
    return data


def _local_http(host: str, port: int) -> str:
    """Where tools on this host reach the daemon (`queued announcer` fetches the calls' audio there)."""
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def ensure(directory: Path, config, broker_url: str) -> dict[str, Account]:
    """Create or update the accounts the configuration implies; keep the passwords already given."""
    path = private_dir(directory) / ACCOUNTS_FILE
    try:
        old = _read(path).get("accounts", {})
    except AccountsError:
        old = {}  # unreadable: every device needs its new password, but the daemon runs
    accounts: dict[str, Account] = {}
    for name, role, addresses in planned(config):
        prev = old.get(name)
        keep = isinstance(prev, dict) and prev.get("role") == role and isinstance(prev.get("password"), str) \
            and len(prev["password"]) >= 16
        accounts[name] = Account(name, role, prev["password"] if keep else _password(), addresses)
    doc = {"v": 1, "broker": broker_url, "prefix": config.mqtt_prefix, "hall": config.hall.id,
           "timezone": config.timezone, "http": _local_http(config.http_host, config.http_port),
           "note": "passwords of the embedded MQTT broker's accounts (written by queued serve; keep private)",
           "accounts": {a.name: {"role": a.role, "password": a.password, **({"addresses": list(a.addresses)}
                                                                            if a.role == "bridge" else {})}
                        for a in accounts.values()}}
    write_private(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    return accounts


def password_file(accounts: dict[str, Account]) -> str:
    return "".join(f"{a.name}:{mosquitto_hash(a.password)}\n" for a in accounts.values())


def find(state: str | os.PathLike) -> Path:
    """The accounts file for a tool given the daemon's state directory (where its database is), or
    the broker directory itself, or the file."""
    p = Path(state)
    if p.is_file():
        return p
    if (p / ACCOUNTS_FILE).is_file():
        return p / ACCOUNTS_FILE
    found = sorted(p.glob(f"*-mqtt/{ACCOUNTS_FILE}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise AccountsError(f"no embedded broker accounts under {p} (queued serve writes <database>-mqtt/{ACCOUNTS_FILE} "
                            f"beside its database when it runs its own broker)")
    raise AccountsError(f"several broker accounts files under {p}: {', '.join(map(str, found))}; name one")


def read(path: Path) -> dict:
    data = _read(path)
    if not data:
        raise AccountsError(f"{path}: no such file")
    return data
