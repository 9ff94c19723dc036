"""HallConfig to and from plain JSON, for the planner's worker process (it gets the hall it plans
for on stdin, without reading the configuration's secret files or hashing its PINs again)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from queued.core.hall import Business, Clerk, HallConfig, Window
from queued.core.workdays import WEEKDAYS, WorkCalendar
from queued.simulate.errors import SimulateError

_NESTED = {"businesses": Business, "windows": Window, "clerks": Clerk}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _calendar_to_dict(days: WorkCalendar) -> dict[str, list[str]]:
    return {"holidays": sorted(d.isoformat() for d in days.holidays),
            "workdays": sorted(d.isoformat() for d in days.workdays),
            "service_days": [WEEKDAYS[i] for i in sorted(days.service_weekdays)]
            + sorted(d.isoformat() for d in days.service_dates)}


def hall_to_dict(hall: HallConfig) -> dict[str, Any]:
    out = {f.name: _plain(getattr(hall, f.name)) for f in fields(hall)
           if not f.name.endswith("_index") and f.name != "days"}
    out["days"] = _calendar_to_dict(hall.days)
    return out


def hall_from_dict(data: dict[str, Any]) -> HallConfig:
    try:
        kwargs: dict[str, Any] = {}
        names = {f.name for f in fields(HallConfig)}
        for key, value in data.items():
            if key not in names or key.endswith("_index"):
                continue
            if key == "days":
                kwargs[key] = WorkCalendar(value.get("holidays", ()), value.get("workdays", ()),
                                           value.get("service_days", ()))
            elif key in _NESTED:
                cls = _NESTED[key]
                kwargs[key] = tuple(cls(**{k: _tuples(v) for k, v in item.items()}) for item in value)
            else:
                kwargs[key] = _tuples(value)
        return HallConfig(**kwargs)
    except (TypeError, ValueError, AttributeError) as exc:
        raise SimulateError(f"not a hall: {exc}") from None
