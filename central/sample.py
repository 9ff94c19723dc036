"""Sample halls for benchmarks, tests and the local demo: a hall day as its journal would hold it
(tickets issued, called, skipped or served, rated or timed out, 差评 follow-ups opened), with the
hall's profile as its shipper sends it. Deterministic for a given random generator.
"""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
REASONS = ["服务态度差", "办事效率低", "一次告知不清", "多次跑腿", "流程繁琐", "其他"]
BUSINESSES = "ABCD"
WINDOWS = [str(i) for i in range(1, 11)]
LEVELS = (5, 5, 5, 5, 5, 5, 4, 4, 4, 3, 3, 2, 1)
POOR_LEVELS = (4, 3, 3, 2, 2, 1, 1)


NAMES = ["市民服务中心", "高新区政务服务中心", "滨江区政务服务中心", "西湖区政务服务中心", "萧山区政务服务中心",
         "余杭区政务服务中心", "临平区政务服务中心", "钱塘区政务服务中心", "富阳区政务服务中心", "临安区政务服务中心",
         "桐庐县政务服务中心", "淳安县政务服务中心", "建德市政务服务中心", "不动产登记分中心", "社保医保分中心"]


def profile(h: int) -> dict:
    name = NAMES[h - 1] if 1 <= h <= len(NAMES) else f"第{h}便民服务中心"
    return {"name": name, "timezone": "Asia/Shanghai", "reasons": REASONS,
            "businesses": {b: f"业务{b}" for b in BUSINESSES}, "windows": {w: f"{w}号窗口" for w in WINDOWS},
            "clerks": {f"{h}{w:0>2}": f"工作人员{h}-{w}" for w in WINDOWS}, "warn_wait_s": [1800.0, 2700.0],
            "closes": "17:30"}


def hall_day(h: int, day: dt.date, tickets: int, rng: random.Random, serial0: int,
             poor_window: str | None = None) -> list[tuple[float, str, dict]]:
    """One hall day as its journal would hold it: (at, kind, data), in time order. `poor_window`
    rates worse than the others (for rankings with a window last month after month)."""
    opens = dt.datetime(day.year, day.month, day.day, 8, 30, tzinfo=TZ).timestamp()
    span = 8.5 * 3600
    ds = day.isoformat()
    out: list[tuple[float, str, dict]] = []
    free_at = dict.fromkeys(WINDOWS, opens)
    arrivals = sorted(opens + rng.random() * span for _ in range(tickets))
    for i, issued in enumerate(arrivals):
        serial = serial0 + i
        tid = f"h{h}d{ds}n{i}"
        business = BUSINESSES[i % 4]
        number = f"{business}{i // 4 + 1:03d}"
        out.append((issued, "ticket_issued", {"at": issued, "ticket": tid, "serial": serial, "number": number,
                                              "business": business, "channel": "kiosk", "priority": "normal",
                                              "openid": None, "due_at": None, "appointment": None}))
        window = min(WINDOWS, key=free_at.get) if rng.random() < 0.7 else rng.choice(WINDOWS)
        clerk = f"{h}{window:0>2}"
        called = max(issued + rng.expovariate(1 / 400), free_at[window])
        out.append((called, "ticket_called", {"at": called, "ticket": tid, "window": window, "clerk": clerk,
                                              "special": False}))
        if rng.random() < 0.08:
            out.append((called + 90, "ticket_skipped", {"at": called + 90, "ticket": tid, "window": window}))
            free_at[window] = called + 90
            continue
        service = 60 + rng.expovariate(1 / 240)
        fin = called + 20 + service
        free_at[window] = fin
        out.append((fin, "ticket_finished", {"at": fin, "ticket": tid, "window": window, "clerk": clerk, "case": serial,
                                             "business": business, "number": number, "started_at": called + 20,
                                             "wait_s": called - issued, "service_s": service}))
        out.append((fin, "rating_requested", {"at": fin, "case": serial, "ticket": tid, "window": window,
                                              "clerk": clerk, "timeout_s": 30}))
        r = rng.random()
        if r < 0.8:
            level = rng.choice(POOR_LEVELS if window == poor_window else LEVELS)
            reasons = (1 << rng.randrange(6)) if level <= 2 and rng.random() < 0.7 else 0
            out.append((fin + 8, "rating_recorded", {
                "at": fin + 8, "case": serial, "ticket": tid, "level": level, "reasons": reasons, "comment": "",
                "channel": "pad", "window": window, "clerk": clerk, "business": business, "day": ds,
                "no_reason": level <= 2 and reasons == 0, "replaced": None}))
            if level <= 2:
                out.append((fin + 9, "followup_opened", {
                    "at": fin + 9, "case": serial, "ticket": tid, "day": ds, "business": business, "window": window,
                    "clerk": clerk, "leader": None, "level": level, "reasons": reasons, "comment": "",
                    "channel": "pad", "named": False, "deadline": (day + dt.timedelta(days=21)).isoformat(),
                    "due_at": fin + 21 * 86400}))
        elif r < 0.9:
            out.append((fin + 30, "rating_timed_out", {
                "at": fin + 30, "case": serial, "ticket": tid, "window": window, "clerk": clerk, "business": business,
                "day": ds, "level": None, "source": "pad"}))
    out.sort(key=lambda e: e[0])
    return out


def ingest_bodies(hall: str, h: int, days: list[dt.date], tickets: int, size: int = 500, seq0: int = 0,
                  poor_window: str | None = None, until: float | None = None) -> tuple[list[dict], int]:
    """A hall's sample days as its shipper would send them: ingest bodies of `size` events (the
    first carries the profile), seqs from `seq0 + 1`. Returns (bodies, last seq). Events after
    `until` (default: now, as a hall would have them) are left out."""
    import time

    rng = random.Random(h)
    bodies, seq, serial = [], seq0, 1 + seq0
    now = time.time() if until is None else until
    for day in days:
        events = [e for e in hall_day(h, day, tickets, rng, serial, poor_window) if e[0] <= now]  # nothing yet to come
        serial += tickets
        for i in range(0, len(events), size):
            chunk = []
            for at, kind, data in events[i:i + size]:
                seq += 1
                chunk.append({"seq": seq, "day": day.isoformat(), "at": at, "kind": kind, "data": data})
            body = {"hall": hall, "after": seq - len(chunk), "head": seq, "events": chunk}
            if not bodies:
                body["profile"] = profile(h)
            bodies.append(body)
    return bodies, seq
