"""`queued central …`: serve, migrate, token create/revoke/list (the central service's commands)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from central.errors import CentralError


def _run(coro):
    try:
        import uvloop
        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


async def _with_conn(cfg, fn):
    import asyncpg

    from central import db
    try:
        conn = await asyncpg.connect(cfg.database)
    except (OSError, asyncpg.PostgresError) as exc:
        raise CentralError(f"cannot connect to {cfg.database}: {exc}") from exc
    try:
        await db.migrate(conn)
        return await fn(conn)
    finally:
        await conn.close()


def cmd_serve(args) -> int:
    from central.config import load
    from central.service import serve
    from queued import logs
    from queued.errors import StartupError
    from queued.process_limits import raise_fd_limit

    cfg = load(args.config)
    logs.setup("info")  # the hall's log: a repeated error once, then a count
    raise_fd_limit()  # every hall's connection is a file descriptor
    try:
        _run(serve(cfg))
    except StartupError as exc:
        print(f"central: {exc}", file=sys.stderr)
        return 2
    finally:
        logs.flush_repeats(force=True)
    return 0


def cmd_migrate(args) -> int:
    from central import db
    from central.config import load

    cfg = load(args.config)

    async def go(conn):
        return await db.migrate(conn)

    applied = _run(_with_conn(cfg, go))
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def cmd_token_create(args) -> int:
    from central import tokens
    from central.config import load

    cfg = load(args.config)
    role = "hall" if args.hall else (args.role or "")
    if args.role and args.hall and args.role != "hall":
        raise CentralError("--hall makes a hall token; --role supervisor takes no --hall")

    async def go(conn):
        return await tokens.create(conn, role, args.hall, args.label or "", args.name or "")

    token, replaced = _run(_with_conn(cfg, go))
    if args.hall:
        print(f"# token for hall {args.hall}: put it in the hall's [central] token_file; shown once, keep it safe"
              + ("; the hall's previous token is revoked" if replaced else ""))
    else:
        print(f"# {role} token for the central service; shown once, keep it safe")
    print(token)
    return 0


def cmd_token_revoke(args) -> int:
    from central import tokens
    from central.config import load

    cfg = load(args.config)

    async def go(conn):
        return await tokens.revoke(conn, args.token)

    n = _run(_with_conn(cfg, go))
    if n == 0:
        print("central: no such active token", file=sys.stderr)
        return 1
    print(f"revoked {n} token(s); every instance refuses it within 10 s")
    return 0


def cmd_token_list(args) -> int:
    from central import tokens
    from central.config import load

    cfg = load(args.config)

    async def go(conn):
        return await tokens.listing(conn)

    rows = _run(_with_conn(cfg, go))
    print(f"{'id':12}  {'role':10}  {'hall':16}  {'created':19}  state    label")
    for r in rows:
        print(f"{r['id']:12}  {r['role']:10}  {r['hall']:16}  {r['created_at']:%Y-%m-%d %H:%M:%S}  "
              f"{'revoked' if r['revoked_at'] else 'active ':8} {r['label']}")
    return 0


CONFIG_HELP = "中心服务配置 central.toml（[central] database、http，见 docs/central.md）"


def build_parser() -> argparse.ArgumentParser:
    from firmware_bridge.cli_help import Help, in_chinese

    parser = argparse.ArgumentParser(prog="queued central", formatter_class=Help,
                                     description="市级中心服务：汇总各大厅的事件，出全市报表、排名和差评整改（PostgreSQL）")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")

    def command(name: str, text: str, parent=sub) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=text, description=text, formatter_class=Help)

    p = command("serve", "运行中心服务（HTTP，数据在 PostgreSQL）")
    p.add_argument("--config", help=CONFIG_HELP)
    p.set_defaults(fn=cmd_serve)
    p = command("migrate", "执行数据库结构迁移（serve 启动时也会做）")
    p.add_argument("--config", help=CONFIG_HELP)
    p.set_defaults(fn=cmd_migrate)
    p = command("token", "大厅令牌与督查员令牌：create、revoke、list")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="操作")
    t = command("create", "生成新令牌，单独打印在最后一行（须 --hall 或 --role supervisor）", tsub)
    t.add_argument("--hall", help="大厅的 [hall] id：生成该大厅的上传令牌（替换它之前的令牌）")
    t.add_argument("--role", choices=("hall", "supervisor"), help="supervisor：看全市报表和页面；不给：hall")
    t.add_argument("--name", help="大厅名称（在大厅自己上传名称之前使用）；不给：用 id")
    t.add_argument("--label", help="备注：谁或什么持有此令牌；不给：空")
    t.add_argument("--config", help=CONFIG_HELP)
    t.set_defaults(fn=cmd_token_create)
    t = command("revoke", "吊销令牌（令牌本身，或 token list 显示的编号）", tsub)
    t.add_argument("token", help="令牌或其编号")
    t.add_argument("--config", help=CONFIG_HELP)
    t.set_defaults(fn=cmd_token_revoke)
    t = command("list", "列出令牌（从不显示令牌本身）", tsub)
    t.add_argument("--config", help=CONFIG_HELP)
    t.set_defaults(fn=cmd_token_list)
    return in_chinese(parser)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "token" and args.token_command == "create" and not args.hall and args.role != "supervisor":
        parser.error("token create needs --hall ID or --role supervisor")
    try:
        return int(args.fn(args) or 0)
    except CentralError as exc:
        print(f"central: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
