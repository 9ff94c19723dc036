"""The JSON forms of pad events and pad commands on the MQTT pad topics (mqtt.md, "When the bridge
runs on another host"), shared by the bridge (``mqtt_bridge``) and the daemon, so both spell them
alike. Extension: ``show_parked`` (docs/pads.md), the JSON of SHOW_PARKED (0x07).
"""

from __future__ import annotations

import json

from .errors import FrameError
from .frames import (
    HostCommand,
    Key,
    KeyCode,
    PadEvent,
    RateCancel,
    RateRequest,
    RateTimeout,
    Rating,
    RatingLevel,
    ShowClerk,
    ShowParked,
    ShowState,
    WindowState,
    encode_payload,
)

STATE_NAMES = {WindowState.IDLE: "idle", WindowState.CALLING: "calling", WindowState.SERVING: "serving",
               WindowState.PAUSED: "paused", WindowState.CLOSED: "closed"}
STATES_BY_NAME = {name: state for state, name in STATE_NAMES.items()}


# ---- JSON forms (mqtt.md) ----------------------------------------------------------------------


def reasons_list(mask: int) -> list[int]:
    """Bitmask → 1-based reason numbers, as the HTTP API and mqtt.md write them."""
    return [i + 1 for i in range(16) if mask >> i & 1]


def reasons_mask(numbers: list) -> int:
    mask = 0
    for n in numbers:
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 16:
            raise FrameError(f"reasons must be numbers 1..16, got {n!r}")
        mask |= 1 << (n - 1)
    return mask


def event_to_json(event: PadEvent) -> dict:
    if isinstance(event, Key):
        out = {"evt": event.evt, "type": "key", "key": KeyCode(event.key).topic_name}
        if event.arg:
            out["arg"] = event.arg  # extension: TRANSFER's business index
        return out
    if isinstance(event, Rating):
        return {"evt": event.evt, "type": "rating", "case": event.case, "level": int(event.level),
                "reasons": reasons_list(event.reasons)}
    if isinstance(event, RateTimeout):
        return {"evt": event.evt, "type": "rate_timeout", "case": event.case}
    raise FrameError(f"not a pad event: {event!r}")


def _int(data: dict, name: str, low: int, high: int, default: int | None = None) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise FrameError(f"{name!r} must be an integer {low}..{high}, got {value!r}")
    return value


def _str(data: dict, name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise FrameError(f"{name!r} must be a string, got {value!r}")
    return value


def _object(raw: bytes | str | dict) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FrameError("expected a JSON object")
    return data


def event_from_json(raw: bytes | str | dict, addr: int = 0) -> PadEvent:
    """The pad event a bridge published; FrameError for anything else."""
    data = _object(raw)
    evt = _int(data, "evt", 1, 255)
    kind = data.get("type")
    if kind == "key":
        try:
            key = KeyCode.from_topic_name(data.get("key"))
        except (ValueError, TypeError):
            raise FrameError(f"unknown key {data.get('key')!r}") from None
        return Key(evt, key, _int(data, "arg", 0, 255, 0), addr=addr)
    if kind == "rating":
        reasons = data.get("reasons", [])
        if not isinstance(reasons, list):
            raise FrameError("'reasons' must be a list of reason numbers")
        return Rating(evt, _int(data, "case", 0, 0xFFFFFFFF), RatingLevel(_int(data, "level", 1, 5)),
                      reasons_mask(reasons), addr=addr)
    if kind == "rate_timeout":
        return RateTimeout(evt, _int(data, "case", 0, 0xFFFFFFFF), addr=addr)
    raise FrameError(f"unknown event type {kind!r}")


def command_to_json(frame: HostCommand) -> dict:
    if isinstance(frame, ShowClerk):
        return {"type": "show_clerk", "stars": frame.stars, "clerk_id": frame.clerk_id, "name": frame.name}
    if isinstance(frame, ShowState):
        return {"type": "show_state", "state": STATE_NAMES[WindowState(frame.state)], "waiting": frame.waiting,
                "ticket": frame.ticket}
    if isinstance(frame, RateRequest):
        return {"type": "rate_request", "case": frame.case, "timeout_s": frame.timeout_s, "ticket": frame.ticket}
    if isinstance(frame, RateCancel):
        return {"type": "rate_cancel", "case": frame.case}
    if isinstance(frame, ShowParked):
        return {"type": "show_parked", "tickets": list(frame.tickets), "count": frame.count}
    raise FrameError(f"no JSON form for {type(frame).__name__}")


def command_from_json(raw: bytes | str | dict) -> HostCommand:
    """The pad command the daemon published; FrameError for anything else (never reaches the bus)."""
    data = _object(raw)
    kind = data.get("type")
    if kind == "show_clerk":
        frame = ShowClerk(_int(data, "stars", 0, 5), _str(data, "clerk_id"), _str(data, "name"))
    elif kind == "show_state":
        state = STATES_BY_NAME.get(data.get("state"))
        if state is None:
            raise FrameError(f"unknown state {data.get('state')!r} (idle, calling, serving, paused, closed)")
        frame = ShowState(state, _int(data, "waiting", 0, 0xFFFF), _str(data, "ticket"))
    elif kind == "rate_request":
        frame = RateRequest(_int(data, "case", 0, 0xFFFFFFFF), _int(data, "timeout_s", 0, 255), _str(data, "ticket"))
    elif kind == "rate_cancel":
        frame = RateCancel(_int(data, "case", 0, 0xFFFFFFFF))
    elif kind == "show_parked":
        tickets = data.get("tickets", [])
        if not isinstance(tickets, list) or len(tickets) > 255 or not all(isinstance(t, str) for t in tickets):
            raise FrameError("'tickets' must be a list of at most 255 ticket numbers")
        frame = ShowParked(tuple(tickets), _int(data, "count", len(tickets), 255, len(tickets)))
    else:
        raise FrameError(f"unknown command type {kind!r}")
    encode_payload(frame)
    return frame
