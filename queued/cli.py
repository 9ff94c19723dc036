"""The `queued` command: serve, token, clerk set-pin, backup, pad-emu, led-sim, announcer, central, simulate."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from queued.auth import ROLES
from queued.errors import QueuedError


def text_arg(value: str) -> str:
    """An argument stored as text (labels, ids, tokens): no control characters, no undecodable bytes
    (which arrive as lone surrogates and could not be written to the database)."""
    from queued.core.text import text_problem

    problem = text_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"holds {problem}")
    return value


def _run(coro) -> None:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover
        runner = asyncio.Runner()
    with runner:
        runner.run(coro)


def cmd_serve(args) -> int:
    from queued import logs
    from queued.config import load_config
    from queued.daemon import Daemon
    from queued.process_limits import raise_fd_limit

    cfg = load_config(args.config)
    logs.setup(cfg.log_level)
    raise_fd_limit()
    if cfg.demo:
        print("queued: no --config given: serving the built-in demo hall "
              f"(database {cfg.database} in the working directory, embedded MQTT broker on "
              f"{cfg.embedded_mqtt[0]}:{cfg.embedded_mqtt[1]})", flush=True)
    try:
        _run(Daemon(cfg).serve())
    finally:
        logs.flush_repeats(force=True)
    return 0


def cmd_token(args) -> int:
    from queued.auth import create_token
    from queued.config import load_config

    cfg = load_config(args.config)
    token = create_token(cfg.database, args.role, args.window, args.clerk, args.label or "",
                         windows={w.id for w in cfg.hall.windows}, clerks={k.id for k in cfg.hall.clerks})
    bound = f" for window {args.window}" if args.window else ""
    bound += f", clerk {args.clerk}" if args.clerk else ""
    print(f"# {args.role} token{bound} (database {cfg.database}); shown once, keep it safe:")
    print(token)
    return 0


def cmd_token_revoke(args) -> int:
    from queued.auth import revoke_token
    from queued.config import load_config

    cfg = load_config(args.config)
    n = revoke_token(cfg.database, args.token)
    if n == 0:
        print("queued: no such active token", file=sys.stderr)
        return 1
    print(f"revoked {n} token(s); the daemon refuses it within 10 s")
    return 0


def cmd_token_list(args) -> int:
    import datetime as dt

    from queued.auth import list_tokens
    from queued.config import load_config

    cfg = load_config(args.config)
    print(f"{'id':12}  {'role':10}  {'window':6}  {'clerk':6}  {'created':19}  state    label")
    for tid, role, window, clerk, label, created, revoked in list_tokens(cfg.database):
        when = dt.datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{tid:12}  {role:10}  {window:6}  {clerk:6}  {when:19}  {'revoked' if revoked else 'active ':8} {label}")
    return 0


def read_pin(stream=None) -> str:
    """The new PIN: typed twice on a terminal (not echoed), or the first line of stdin. Never argv:
    a PIN on the command line is in the shell history and in every `ps` listing."""
    import getpass

    stream = stream or sys.stdin
    if stream.isatty():
        pin = getpass.getpass("new PIN: ")
        if getpass.getpass("the same PIN again: ") != pin:
            raise QueuedError("the two PINs differ; nothing was changed")
        return pin
    return stream.readline().rstrip("\r\n")


def cmd_clerk_set_pin(args) -> int:
    from queued.config import load_config
    from queued.pins import set_pin

    cfg = load_config(args.config)
    if args.clerk not in cfg.hall.clerk_index:
        raise QueuedError(f"unknown clerk {args.clerk!r} (not among the configuration's [[clerk]] ids)")
    pin = read_pin()
    if not pin:
        raise QueuedError("no PIN given (type it when asked, or give it on stdin: never as an argument)")
    set_pin(cfg.database, args.clerk, pin)
    print(f"PIN of clerk {args.clerk} set (database {cfg.database}); it works at once")
    return 0


def cmd_backup(args) -> int:
    from queued.backup import backup
    from queued.config import load_config

    cfg = load_config(args.config)
    pages = backup(cfg.database, args.file)
    print(f"backed up {cfg.database} to {args.file} ({pages} pages)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="queued", description="政务服务中心 queue, call and evaluator daemon")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the daemon (no --config: the built-in demo hall)")
    p.add_argument("--config", help="hall configuration (TOML)")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("token", help="manage bearer tokens")
    tsub = p.add_subparsers(dest="token_command", required=True)
    t = tsub.add_parser("create", help="print a new bearer token, alone on the last line")
    t.add_argument("--role", required=True, choices=ROLES)
    t.add_argument("--window", type=text_arg, help="the window a clerk token acts on")
    t.add_argument("--clerk", type=text_arg, help="工号 of the clerk this token signs in")
    t.add_argument("--label", type=text_arg, help="a note: who or what holds the token")
    t.add_argument("--config", help="hall configuration (TOML)")
    t.set_defaults(fn=cmd_token)
    t = tsub.add_parser("revoke", help="revoke a token (the token itself, or its id from `token list`)")
    t.add_argument("token", type=text_arg)
    t.add_argument("--config", help="hall configuration (TOML)")
    t.set_defaults(fn=cmd_token_revoke)
    t = tsub.add_parser("list", help="list tokens (ids, roles, windows; never the tokens themselves)")
    t.add_argument("--config", help="hall configuration (TOML)")
    t.set_defaults(fn=cmd_token_list)

    p = sub.add_parser("clerk", help="manage clerks' PIN sign-in")
    csub = p.add_subparsers(dest="clerk_command", required=True)
    t = csub.add_parser("set-pin", help="set a clerk's PIN (read from the terminal or stdin, stored hashed)")
    t.add_argument("--clerk", required=True, help="工号, one of the configuration's [[clerk]] ids")
    t.add_argument("--config", help="hall configuration (TOML)")
    t.set_defaults(fn=cmd_clerk_set_pin)

    p = sub.add_parser("backup", help="copy the database while the daemon runs (SQLite online backup)")
    p.add_argument("file")
    p.add_argument("--config")
    p.set_defaults(fn=cmd_backup)

    p = sub.add_parser("pad-emu", help="a QPad emulator on a pty or serial URL, for installers and tests")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=lambda a: _delegate("firmware_bridge.emulator_cli", "run_pad_emulator", a.rest))

    p = sub.add_parser("led-sim", help="a terminal LED simulator subscribed like a real controller")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=lambda a: _delegate("display.led_sim", "run_led_sim", a.rest))

    p = sub.add_parser("announcer", help="语音叫号: play every call through this PC's speakers (aplay/paplay)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=lambda a: _delegate("display.announcer", "run_announcer", a.rest))

    p = sub.add_parser("central", help="the central service of a city's halls (serve, token create, migrate)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=lambda a: _delegate("central.cli", "main", a.rest))

    p = sub.add_parser("simulate", help="simulated days through the real engine: waits, what-ifs, a staffing plan")
    p.add_argument("rest", nargs=argparse.REMAINDER)

    argv = sys.argv[1:] if argv is None else argv
    tools = {"pad-emu": ("firmware_bridge.emulator_cli", "run_pad_emulator"), "led-sim": ("display.led_sim", "run_led_sim"),
             "announcer": ("display.announcer", "run_announcer"), "central": ("central.cli", "main"),
             "simulate": ("queued.simulate.cli", "main")}
    if argv and argv[0] in tools:
        # argparse's REMAINDER drops options that come first (`led-sim --url ...`): hand them over whole.
        return _delegate(*tools[argv[0]], argv[1:])
    args = parser.parse_args(argv)
    # What the daemon and its commands create (database, secrets, backups, broker accounts) is for
    # the daemon's user alone; the files that matter are also created 0600 explicitly.
    os.umask(0o077)
    try:
        return int(args.fn(args) or 0)
    except QueuedError as exc:
        print(f"queued: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _delegate(module: str, name: str, argv: list[str]) -> int:
    from importlib import import_module

    try:
        fn = getattr(import_module(module), name)
    except (ImportError, AttributeError) as exc:
        print(f"queued: {module}.{name} is not available: {exc}", file=sys.stderr)
        return 2
    return int(fn(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
