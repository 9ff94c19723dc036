"""Halls and demands for the simulator's tests."""

from __future__ import annotations

from pathlib import Path

from queued.config import parse_config
from queued.simulate.demand import parse_demand
from queued.simulate.scenario import Scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HALL = EXAMPLES / "sim_hall.toml"
DEMAND = EXAMPLES / "sim_demand.toml"

SMALL_HALL = """
[hall]
id = "t"
name = "测试中心"
warn_wait_minutes = [20, 40]
{hall_extra}

[[business]]
code = "A"
name = "综合受理"

[[business]]
code = "B"
name = "不动产登记"

[[window]]
id = "1"
businesses = ["A"]

[[window]]
id = "2"
businesses = ["A", "B"]

[[window]]
id = "3"
businesses = ["B"]
"""

SMALL_DEMAND = """
opens = "08:30"
no_show = 0.05
green_share = 0.05

[[arrivals]]
business = "A"
per_hour = {{"08:30" = 20, "10:00" = 30, "12:00" = 0}}

[[arrivals]]
business = "B"
per_hour = {{"08:30" = 8, "12:00" = 0}}

[[bookings]]
business = "B"
per_slot = {{"09:00" = 2, "10:00" = 2}}

[service.A]
mean_s = 300

[service.B]
mean_s = 600
dist = "exponential"
{extra}
"""


def small(hall_extra: str = 'closes = "12:00"', extra: str = "", name: str = "A") -> Scenario:
    cfg = parse_config(SMALL_HALL.format(hall_extra=hall_extra), source="test")
    demand = parse_demand(SMALL_DEMAND.format(extra=extra), cfg.hall, "demand", cfg.hall.closes_minute)
    return Scenario(cfg.hall, demand, cfg.timezone, name)


def example() -> Scenario:
    cfg = parse_config(HALL.read_text(encoding="utf-8"), source=str(HALL))
    demand = parse_demand(DEMAND.read_text(encoding="utf-8"), cfg.hall, str(DEMAND), cfg.hall.closes_minute)
    return Scenario(cfg.hall, demand, cfg.timezone)
