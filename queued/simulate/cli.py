"""`queued simulate`: simulated days of a hall through the real engine.

  queued simulate --config hall.toml --demand demand.toml [--days N] [--seed S] [--format text|json|csv]
                  [--chart waits.svg] [--journal out.sqlite3]
  queued simulate ... --what-if b.toml [a.toml]     compare two scenarios on the same days
  queued simulate ... --planner --target-p90 15      the fewest windows per half hour
  queued simulate --config hall.toml --from-db [--weeks 4]   demand from the hall's own database
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

from queued.errors import ConfigError, QueuedError
from queued.simulate import report
from queued.simulate.demand import Demand, WhatIf, load_demand, load_what_if
from queued.simulate.errors import SimulateError
from queued.simulate.scenario import Scenario

MAX_DAYS = 1000


def parser() -> argparse.ArgumentParser:
    from firmware_bridge import cli_help

    p = cli_help.parser("queued simulate", "模拟大厅的工作日：真实的叫号引擎、模拟的时钟（见 docs/simulate.md）")
    p.add_argument("--config", help="大厅配置（TOML）；不给：内置演示大厅")
    p.add_argument("--demand", help="需求文件（TOML）：到达、办理时长、人员、[[plan]]；不给：按配置估计")
    p.add_argument("--from-db", action="store_true", help="到达和办理时长取自大厅数据库的历史")
    p.add_argument("--weeks", type=int, default=4, help="配合 --from-db：取最近几周")
    p.add_argument("--today", help="配合 --from-db：历史截止到这一天之前（YYYY-MM-DD）；不给：今天")
    p.add_argument("--days", type=int, default=10, help="模拟多少个工作日")
    p.add_argument("--seed", type=int, default=1, help="随机种子：同一种子得到同样的日子")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text", help="输出格式")
    p.add_argument("--eta-every", type=int, default=1, metavar="N",
                   help="每 N 张票读一次引擎的预计等候（1：每张都读；繁忙大厅读一次有开销）")
    p.add_argument("--chart", help="把全天等候图（SVG）写到这个文件；不给：不画")
    p.add_argument("--journal", help="同时把模拟事件写进这个 SQLite 日志（新文件）；不给：不写")
    p.add_argument("--what-if", nargs="+", metavar="FILE",
                   help="比较：B（与基准比）或 B A；文件里写 [hall] 键、[[plan]]、[clerks]；不给：不比较")
    p.add_argument("--planner", action="store_true", help="排班测算：每半小时最少开几个窗口")
    p.add_argument("--target-p90", type=float, default=15.0, help="排班测算：90%% 等候不超过多少分钟")
    return cli_help.in_chinese(p)


def _config(path: str | None, overrides: dict | None = None):
    from queued.config import DEMO_HALL, load_config, parse_config

    if not overrides:
        return load_config(path)
    text = Path(path).read_text(encoding="utf-8") if path else DEMO_HALL.read_text(encoding="utf-8")
    return parse_config(text, source=path or "built-in demo hall", overrides={"hall": overrides})


def _demand(args, cfg) -> Demand:
    hall = cfg.hall
    closes = hall.closes_minute
    base = load_demand(args.demand, hall, closes) if args.demand else None
    if not args.from_db:
        if base is None:
            raise SimulateError("give --demand FILE or --from-db (see docs/simulate.md)")
        return base
    from queued.simulate.history import load_history

    today = args.today or cfg_today(cfg)
    hist = load_history(cfg.database, hall, cfg.timezone, args.weeks, today)
    if base is not None:  # history's citizens, the file's clerks and plan
        return replace(hist, clerks=base.clerks, plan=base.plan, opens=base.opens)
    return hist


def cfg_today(cfg) -> str:
    from queued.core.calendar import HallCalendar

    return HallCalendar(cfg.timezone).day(time.time())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (SimulateError, ConfigError, QueuedError) as exc:
        print(f"queued simulate: {exc}", file=sys.stderr)
        return 2


def run(args, out=None) -> int:
    out = out or sys.stdout
    if not 1 <= args.days <= MAX_DAYS:
        raise SimulateError(f"--days must be 1..{MAX_DAYS}")
    if args.planner and args.what_if:
        raise SimulateError("--planner and --what-if do not go together")
    if not 0 <= args.eta_every <= 100_000:
        raise SimulateError("--eta-every must be 0..100000 (0: no ETA)")
    if not 1 <= args.target_p90 <= 600:
        raise SimulateError("--target-p90 must be 1..600 minutes")
    cfg = _config(args.config)
    demand = _demand(args, cfg)
    base = Scenario(cfg.hall, demand, cfg.timezone, "A")
    if args.planner:
        from queued.simulate.planner import plan_windows

        result = plan_windows(base, args.target_p90 * 60, args.days, args.seed)
        _emit(out, args.format, result, report.plan_text, report.plan_rows(result), report.plan_fields(result))
        return 0
    if args.what_if:
        return _what_if(args, cfg, demand, base, out)
    from queued.simulate.run import run_days
    from queued.simulate.summary import summarize

    results = run_days(base, args.days, args.seed, eta_every=args.eta_every, record_events=bool(args.journal))
    summary = summarize(base, results, args.seed)
    if args.chart:
        from queued.simulate.chart import waits_svg

        Path(args.chart).write_text(waits_svg(base, results), encoding="utf-8")
    if args.journal:
        from queued.simulate.journaled import write_journal

        asyncio.run(write_journal(args.journal, base, results))
    title = f"{cfg.hall.name} · {demand.source}"
    _emit(out, args.format, summary, lambda s: report.summary_text(s, title), report.summary_rows(summary),
          report.SUMMARY_FIELDS)
    return 0


def _side(args, cfg, demand: Demand, path: str | None) -> tuple[Scenario, str]:
    if path is None:
        return Scenario(cfg.hall, demand, cfg.timezone, "A"), "现行方案"
    span = (demand.opens if demand.opens is not None else demand.first_minute(),
            cfg.hall.closes_minute if cfg.hall.closes_minute is not None else demand.last_minute())
    wi: WhatIf = load_what_if(path, cfg.hall, span)
    side_cfg = cfg
    if wi.hall:
        try:
            side_cfg = _config(args.config, wi.hall)
        except ConfigError as exc:
            raise SimulateError(f"what-if {path}: {exc}") from None
    return Scenario(side_cfg.hall, wi.apply(demand), side_cfg.timezone, wi.name), Path(path).name


def _what_if(args, cfg, demand: Demand, base: Scenario, out) -> int:
    from queued.simulate.whatif import compare

    files = args.what_if
    if len(files) > 2:
        raise SimulateError("--what-if takes one file (compared with the base) or two (B, then A)")
    b, name_b = _side(args, cfg, demand, files[0])
    a, name_a = _side(args, cfg, demand, files[1] if len(files) == 2 else None)
    result = compare(a, b, args.days, args.seed, args.eta_every)
    _emit(out, args.format, result, lambda c: report.compare_text(c, name_a, name_b), report.compare_rows(result),
          report.COMPARE_FIELDS)
    return 0


def _emit(out, fmt: str, result, text_fn, rows, fields) -> None:
    if fmt == "json":
        out.write(report.dumps(result) + "\n")
    elif fmt == "csv":
        out.write(report.to_csv(rows, fields))
    else:
        out.write(text_fn(result) + "\n")


if __name__ == "__main__":
    sys.exit(main())
