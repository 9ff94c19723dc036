"""The planner's worker process for /admin/planner.

Reads one job as JSON on stdin, writes one answer as JSON on stdout, and exits:
  job:    {"database", "timezone", "hall": hall_to_dict(...), "weeks", "today", "target_p90_s", "days", "seed"}
  answer: {"ok": true, "plan": plan_windows(...), "history": {...}} | {"ok": false, "error": "..."}

It runs at the lowest CPU priority (SCHED_IDLE on Linux: only on CPU time nothing else wants; else
nice 19) and reads the database on its own read-only connection, so the daemon's loop, its
journal and its reader never wait for a planner run.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from queued.simulate.errors import SimulateError

LIMITS = {"weeks": (1, 12), "days": (5, 60), "target_p90_s": (60, 7200), "seed": (0, 2**31)}


def check_job(job: Any) -> dict[str, Any]:
    if not isinstance(job, dict):
        raise SimulateError("job: expected a JSON object")
    for key, (lo, hi) in LIMITS.items():
        v = job.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise SimulateError(f"job.{key}: expected a number in {lo}..{hi}")
    for key in ("database", "timezone", "today"):
        if not isinstance(job.get(key), str):
            raise SimulateError(f"job.{key}: expected a string")
    if not isinstance(job.get("hall"), dict):
        raise SimulateError("job.hall: expected an object")
    return job


def history_summary(demand) -> dict[str, Any]:
    out = {}
    for a in demand.arrivals:
        svc = demand.service.get(a.business)
        out[a.business] = {"per_day": round(a.expected(), 1), "no_show": a.no_show, "green_share": a.green_share,
                           "mean_case_s": svc.mean_s if svc else None, "cv": svc.cv if svc else None}
    for b in demand.bookings:
        row = out.setdefault(b.business, {"per_day": 0.0, "no_show": None, "green_share": None,
                                          "mean_case_s": None, "cv": None})
        row["booked_per_day"] = round(sum(n for _, n in b.slots), 1)
    return {"source": demand.source, "businesses": out}


def run(job: dict[str, Any]) -> dict[str, Any]:
    from queued.simulate.hallcodec import hall_from_dict
    from queued.simulate.history import load_history
    from queued.simulate.planner import plan_windows
    from queued.simulate.scenario import Scenario

    job = check_job(job)
    hall = hall_from_dict(job["hall"])
    demand = load_history(job["database"], hall, job["timezone"], int(job["weeks"]), job["today"])
    scenario = Scenario(hall, demand, job["timezone"], "history")
    plan = plan_windows(scenario, float(job["target_p90_s"]), int(job["days"]), int(job["seed"]))
    return {"ok": True, "plan": plan, "history": history_summary(demand)}


def lowest_priority() -> None:
    """Run only on CPU time the daemon (and anything else) leaves: SCHED_IDLE on Linux, else nice 19."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(19)
    except OSError:  # not allowed here: run at the same priority
        pass


def main() -> int:
    lowest_priority()
    try:
        answer = run(json.loads(sys.stdin.read() or "null"))
    except json.JSONDecodeError as exc:
        answer = {"ok": False, "error": f"job: not JSON ({exc})"}
    except SimulateError as exc:
        answer = {"ok": False, "error": str(exc)}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
