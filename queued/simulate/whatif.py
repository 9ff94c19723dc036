"""What-if: two scenarios on the same simulated days (common random numbers).

Both sides meet the same citizens (arrivals, green channel, no-shows and case times are drawn per
business per day from the seed, whatever the plan), so the day-by-day difference is the rules' own
effect; its spread over the days says how sure that is (mean, standard deviation, 95% interval of
the mean difference, and on how many days each side did better).
"""

from __future__ import annotations

import math
from typing import Any

from queued.simulate.run import run_days
from queued.simulate.scenario import Scenario
from queued.simulate.summary import day_metrics, summarize

# Figures compared, all "lower is better"; per-business waits are added for every business.
METRICS = ("mean_wait_s", "p90_wait_s", "max_wait_s", "over_yellow", "over_red", "skip_rate", "left_over",
           "extended_minutes", "eta_error_mean_s")
# two-sided 97.5% Student t quantiles for 1..30 degrees of freedom (beyond: the normal's 1.96)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def spread(diffs: list[float]) -> dict[str, float | int | None]:
    n = len(diffs)
    if n == 0:
        return {"mean": None, "sd": None, "ci95": None, "n": 0}
    mean = sum(diffs) / n
    if n == 1:
        return {"mean": mean, "sd": None, "ci95": None, "n": 1}
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    return {"mean": mean, "sd": sd, "ci95": t975(n - 1) * sd / math.sqrt(n), "n": n}


def compare(a: Scenario, b: Scenario, days: int, seed: int, eta_every: int = 1) -> dict[str, Any]:
    ra, rb = run_days(a, days, seed, eta_every=eta_every), run_days(b, days, seed, eta_every=eta_every)
    ma = [day_metrics(a, r) for r in ra]
    mb = [day_metrics(b, r) for r in rb]
    keys = list(METRICS) + sorted({k for m in ma + mb for k in m if "." in k})
    difference: dict[str, Any] = {}
    for key in keys:
        pairs = [(x.get(key), y.get(key)) for x, y in zip(ma, mb, strict=True)]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        if not pairs:
            continue
        s = spread([y - x for x, y in pairs])
        difference[key] = {
            "a": _round(sum(x for x, _ in pairs) / len(pairs)),
            "b": _round(sum(y for _, y in pairs) / len(pairs)),
            "mean": _round(s["mean"]), "sd": _round(s["sd"]), "ci95": _round(s["ci95"]),
            "b_better_days": sum(1 for x, y in pairs if y < x),
            "a_better_days": sum(1 for x, y in pairs if x < y),
        }
    return {"days": days, "seed": seed, "a": summarize(a, ra, seed), "b": summarize(b, rb, seed),
            "difference": difference, "per_day": "figures are means per day; difference = b − a"}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4 if abs(x) < 1 else 1)
