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


CONFIG_HELP = "大厅配置文件（TOML，见 docs/operations.md）；不给：内置演示大厅"
TOOL_HELP = "其余参数交给该工具；看它的选项：queued {name} --help"


def build_parser() -> argparse.ArgumentParser:
    from firmware_bridge.cli_help import Help, in_chinese
    from queued import __version__

    parser = argparse.ArgumentParser(
        prog="queued", formatter_class=Help,
        description="政务服务中心排队叫号与好差评系统（queue, call and 好差评 daemon for a government service hall）\n"
                    "新手：queued serve 启动内置演示大厅，浏览器打开 http://127.0.0.1:8080/ 。")
    parser.add_argument("--version", action="version", version=f"queued {__version__}", help="显示版本号后退出")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")

    def command(name: str, text: str, parent=sub) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=text, description=text, formatter_class=Help)

    p = command("serve", "运行守护进程（不给 --config：内置演示大厅，自带 MQTT，数据库在当前目录）")
    p.add_argument("--config", help=CONFIG_HELP)
    p.set_defaults(fn=cmd_serve)

    p = command("token", "管理访问令牌（bearer token）：create、revoke、list")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="操作")
    t = command("create", "生成新令牌，单独打印在最后一行（只显示这一次）", tsub)
    t.add_argument("--role", required=True, choices=ROLES,
                   help="角色：kiosk 取号机，desk 导办台，clerk 窗口（须 --window），integration 一窗受理系统，"
                        "supervisor 督查员，admin 管理员")
    t.add_argument("--window", type=text_arg, help="clerk 令牌绑定的窗口号；不给：不绑定窗口")
    t.add_argument("--clerk", type=text_arg, help="此令牌签到的工作人员工号；不给：由窗口上签到的人定")
    t.add_argument("--label", type=text_arg, help="备注：谁或哪台设备持有此令牌；不给：空")
    t.add_argument("--config", help=CONFIG_HELP)
    t.set_defaults(fn=cmd_token)
    t = command("revoke", "吊销令牌（令牌本身，或 token list 显示的编号）；守护进程 10 秒内拒绝它", tsub)
    t.add_argument("token", type=text_arg, help="令牌或其编号")
    t.add_argument("--config", help=CONFIG_HELP)
    t.set_defaults(fn=cmd_token_revoke)
    t = command("list", "列出令牌（编号、角色、窗口；从不显示令牌本身）", tsub)
    t.add_argument("--config", help=CONFIG_HELP)
    t.set_defaults(fn=cmd_token_list)

    p = command("clerk", "工作人员密码（PIN）登录：set-pin")
    csub = p.add_subparsers(dest="clerk_command", required=True, metavar="操作")
    t = command("set-pin", "设置工作人员的 PIN（从终端输入两次或从标准输入读一行，只存散列；从不作为参数）", csub)
    t.add_argument("--clerk", required=True, help="工号，须是配置 [[clerk]] 里的 id")
    t.add_argument("--config", help=CONFIG_HELP)
    t.set_defaults(fn=cmd_clerk_set_pin)

    p = command("backup", "守护进程运行时备份数据库（SQLite 在线备份），恢复见 docs/operations.md")
    p.add_argument("file", help="备份写到这个文件")
    p.add_argument("--config", help=CONFIG_HELP)
    p.set_defaults(fn=cmd_backup)

    for name, text in TOOLS_HELP.items():
        p = command(name, text)
        p.add_argument("rest", nargs=argparse.REMAINDER, help=TOOL_HELP.format(name=name))
    return in_chinese(parser)


# The tools that parse their own options (handed the rest of the command line whole).
TOOLS = {"pad-emu": ("firmware_bridge.emulator_cli", "run_pad_emulator"), "led-sim": ("display.led_sim", "run_led_sim"),
         "announcer": ("display.announcer", "run_announcer"), "central": ("central.cli", "main"),
         "simulate": ("queued.simulate.cli", "main")}
TOOLS_HELP = {
    "pad-emu": "评价器（QPad）模拟器：在伪终端（pty）或串口上扮演评价器，配置里 pad = {port = …} 指向它",
    "led-sim": "终端里的 LED 窗口屏模拟器，像真屏一样订阅 MQTT，显示大厅时钟",
    "announcer": "语音叫号：大厅电脑的音箱依次播放每次叫号（paplay 或 aplay）",
    "central": "市级中心服务（多个大厅汇总）：serve、token、migrate",
    "simulate": "用真实叫号引擎模拟工作日：等候时间、假设分析、排班测算",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in TOOLS:
        # argparse's REMAINDER drops options that come first (`led-sim --url ...`): hand them over whole.
        return _delegate(*TOOLS[argv[0]], argv[1:])
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
