"""central.toml: `[central] database = "postgresql://…"`, `http = "HOST:PORT"` and a few optional keys.

Unknown keys are refused with their name, like the hall's file. The environment may override:
QUEUED_CENTRAL_DATABASE, QUEUED_CENTRAL_HTTP.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from central.errors import CentralConfigError

KEYS = {
    "database": (str, None),       # required
    "http": (str, "127.0.0.1:8090"),
    "name": (str, "市政务服务中心"),  # extension: the city's name on its pages
    "timezone": (str, "Asia/Shanghai"),  # extension: the city's day for report defaults
    "pool_size": (int, 10),        # extension: connections per instance
    "public_url": (str, ""),       # extension: the address browsers use, when a proxy/load balancer sits in front
}


@dataclass(frozen=True)
class CentralConfig:
    database: str
    http_host: str = "127.0.0.1"
    http_port: int = 8090
    name: str = "市政务服务中心"
    timezone: str = "Asia/Shanghai"
    pool_size: int = 10
    public_url: str = ""
    source: str = ""


def load(path: str | os.PathLike | None, env: dict[str, str] | None = None) -> CentralConfig:
    env = dict(os.environ if env is None else env)
    raw: dict = {}
    source = "environment"
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CentralConfigError(f"config: cannot read {path}: {exc.strerror or exc}") from exc
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CentralConfigError(f"config: {path} is not valid TOML: {exc}") from exc
        extra = sorted(set(doc) - {"central"})
        if extra:
            raise CentralConfigError(f"config: unknown section(s) {', '.join(extra)} (known: central)")
        raw = doc.get("central", {})
        if not isinstance(raw, dict):
            raise CentralConfigError("config: [central] must be a table")
        source = str(path)
    out = {}
    for key, value in raw.items():
        if key not in KEYS:
            raise CentralConfigError(f"config: central.{key}: unknown key (known keys: {', '.join(KEYS)})")
        typ = KEYS[key][0]
        if not isinstance(value, typ) or isinstance(value, bool):
            raise CentralConfigError(f"config: central.{key}: expected a {typ.__name__}")
        out[key] = value
    for key, (_, default) in KEYS.items():
        out.setdefault(key, default)
    if env.get("QUEUED_CENTRAL_DATABASE"):
        out["database"] = env["QUEUED_CENTRAL_DATABASE"]
    if env.get("QUEUED_CENTRAL_HTTP"):
        out["http"] = env["QUEUED_CENTRAL_HTTP"]
    if not out["database"]:
        raise CentralConfigError("config: central.database is required (postgresql://USER@HOST:PORT/DB)")
    if not out["database"].startswith(("postgresql://", "postgres://")):
        raise CentralConfigError("config: central.database: expected a postgresql:// URL")
    host, sep, port = out["http"].rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CentralConfigError(f"config: central.http: {out['http']!r} is not HOST:PORT")
    try:
        ZoneInfo(out["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise CentralConfigError(f"config: central.timezone: unknown time zone {out['timezone']!r}") from None
    if not 1 <= out["pool_size"] <= 200:
        raise CentralConfigError("config: central.pool_size: must be 1..200")
    if out["public_url"] and not out["public_url"].startswith(("http://", "https://")):
        raise CentralConfigError("config: central.public_url: expected an http:// or https:// URL")
    return CentralConfig(database=out["database"], http_host=host or "127.0.0.1", http_port=int(port),
                         name=out["name"], timezone=out["timezone"], pool_size=out["pool_size"],
                         public_url=out["public_url"], source=source)
