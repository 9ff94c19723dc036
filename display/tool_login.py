"""How the hall's MQTT tools (`queued led-sim`, `queued announcer`) find the broker, their account,
the topics, the hall's time zone and the daemon's HTTP address; and how they run their tasks.

What the options say wins; the rest comes from the daemon's state (the embedded broker's accounts
file beside its database, found from --state-dir or from --config; no config: the demo hall), else
an anonymous client of 127.0.0.1:1883 and the daemon on 127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

from queued.errors import ConfigError


def add_login_options(p: argparse.ArgumentParser, default_account: str) -> None:
    p.add_argument("--url", default=None, help="MQTT 服务器 mqtt://主机:端口；不给：守护进程内置的那个，"
                                                "否则 mqtt://127.0.0.1:1883")
    p.add_argument("--prefix", default=None, help="主题前缀；不给：守护进程的，否则 queued")
    p.add_argument("--hall", default=None, help="大厅编号；不给：守护进程的，否则 main")
    p.add_argument("--screen-id", default=None, help=f"心跳里的屏幕编号（内置 MQTT 上即显示屏账号）；"
                                                      f"默认 {default_account}")
    p.add_argument("--username", default=None, help="MQTT 账号；不给：从守护进程的状态目录取")
    p.add_argument("--password-file", default=None, help="存放该账号密码的文件；不给：从状态目录取")
    p.add_argument("--state-dir", default=None, help="守护进程的状态目录（数据库所在处），从内置 MQTT 的账号"
                                                      "文件取账号；不给：由 --config 找，否则当前目录（演示大厅）")
    p.add_argument("--config", default=None, help="守护进程的大厅配置（用来找状态目录和时区）；不给：演示大厅")
    p.add_argument("--timezone", default=None, help="大厅时区（时钟按它显示）；不给：守护进程的，否则 Asia/Shanghai")


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


async def run_tasks(tasks: list[asyncio.Task], deadline: float | None) -> None:
    """Run a tool's tasks until the first one fails (its error raised) or `deadline` (monotonic)
    passes; the others are cancelled and awaited either way."""
    try:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            t.result()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
