"""How the hall's MQTT tools (`queued led-sim`, `queued announcer`) find the broker, their account,
the topics, the hall's time zone and the daemon's HTTP address.

What the options say wins; the rest comes from the daemon's state (the embedded broker's accounts
file beside its database, found from --state-dir or from --config; no config: the demo hall), else
an anonymous client of 127.0.0.1:1883 and the daemon on 127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import socket

from queued.errors import ConfigError


def add_login_options(p: argparse.ArgumentParser, default_account: str) -> None:
    p.add_argument("--url", default=None, help="broker, mqtt://HOST:PORT (default: the daemon's embedded one)")
    p.add_argument("--prefix", default=None, help="topic prefix (default: the daemon's, else queued)")
    p.add_argument("--hall", default=None, help="hall id (default: the daemon's, else main)")
    p.add_argument("--screen-id", default=None, help=f"id in heartbeats (on the embedded broker: a display "
                                                      f"account, default {default_account})")
    p.add_argument("--username", default=None, help="broker account (default: from the daemon's state)")
    p.add_argument("--password-file", default=None, help="file holding that account's password")
    p.add_argument("--state-dir", default=None, help="the daemon's state directory (where its database is): "
                                                      "take the account from the embedded broker's file there")
    p.add_argument("--config", default=None, help="the daemon's hall configuration (finds its state directory)")
    p.add_argument("--timezone", default=None, help="the hall's time zone (default: the daemon's, else Asia/Shanghai)")


def http_base(host: str, port: int) -> str:
    """The daemon's own address as a client on the same host reaches it."""
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def resolve_login(args: argparse.Namespace, default_account: str) -> dict:
    from queued.broker import accounts as acc

    out = {"url": args.url, "prefix": args.prefix, "hall": args.hall, "screen_id": args.screen_id,
           "username": args.username, "password": None, "timezone": args.timezone,
           "http": getattr(args, "daemon", None)}
    if args.password_file:
        out["password"] = read_secret(args.password_file)
    doc = None
    path = None
    if args.state_dir:
        path = acc.find(args.state_dir) if args.username is None else None
    else:
        from queued.config import load_config

        cfg = load_config(args.config)
        if cfg.mqtt_url is None:
            candidate = acc.broker_dir(cfg.database) / acc.ACCOUNTS_FILE
            path = candidate if candidate.is_file() and args.username is None else None
        else:
            out["url"] = out["url"] or cfg.mqtt_url
        out["prefix"] = out["prefix"] or cfg.mqtt_prefix
        out["hall"] = out["hall"] or cfg.hall.id
        out["timezone"] = out["timezone"] or cfg.timezone
        out["http"] = out["http"] or http_base(cfg.http_host, cfg.http_port)
    if path is not None:
        doc = acc.read(path)
    if doc is not None:
        name = args.screen_id or default_account
        account = doc["accounts"].get(name)
        if account is None or account.get("role") != "display":
            raise acc.AccountsError(f"{name!r} is not a display account of the embedded broker "
                                    f"(there: {', '.join(n for n, a in doc['accounts'].items() if a.get('role') == 'display')})")
        out.update(username=name, password=account["password"], screen_id=name)
        for key, field in (("url", "broker"), ("prefix", "prefix"), ("hall", "hall"), ("timezone", "timezone"),
                           ("http", "http")):
            out[key] = out[key] or doc.get(field)
    out["url"] = out["url"] or "mqtt://127.0.0.1:1883"
    out["prefix"] = out["prefix"] or "queued"
    out["hall"] = out["hall"] or "main"
    out["timezone"] = out["timezone"] or "Asia/Shanghai"
    out["http"] = (out["http"] or "http://127.0.0.1:8080").rstrip("/")
    out["screen_id"] = out["screen_id"] or out["username"] or f"{default_account}-{socket.gethostname()}"
    return out


def read_secret(path: str) -> str:
    try:
        return open(path, encoding="utf-8").read().strip()
    except OSError as exc:
        raise ConfigError(f"--password-file {path}: {exc.strerror or exc}") from None
