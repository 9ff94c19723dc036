"""What the hall's screens (/screen, /screen/window/{w}) show, built from the engine's state.

Pure: the engine, the screen model and the time come in. Public on purpose: only what the hall's
LED strips and board show anyway (ticket numbers, window states, counts; no names).
"""

from __future__ import annotations

from typing import Any

from queued.core.state import OPEN_STATES

STATE_TEXT = {"calling": "呼叫中", "serving": "办理中", "paused": "暂停服务", "closed": "未开窗", "idle": "空闲"}


def window_card(engine, model, window_id: str, phase: str) -> dict[str, Any]:
    """One window as a screen shows it; `call` changes with every call or recall (the page flashes then)."""
    w = engine.windows[window_id]
    cur = w.current
    shown = cur is not None and w.state in ("calling", "serving")
    names = engine.hall.business_index
    return {
        "window": w.id, "label": model.label(w.id), "state": w.state, "text": STATE_TEXT[w.state],
        "ticket": cur.number if shown else None,
        "reason": w.pause_reason if w.state == "paused" else None,
        "extended": phase == "extended" and w.state in OPEN_STATES,  # 延时服务中: past `closes`, still serving
        "call": f"{cur.id}:{cur.called_at}:{cur.recalls}" if w.state == "calling" and cur is not None else None,
        "businesses": [names[b].name for b in w.businesses if b in names],
        "waiting": engine.waiting_for_window(w.id),
    }


def screen_state(service, now: float, window: str | None = None) -> dict[str, Any]:
    """Everything a screen page needs when its stream (re)opens; `window`: one window's LCD."""
    rt = service.runtime
    eng = rt.engine
    hall = rt.config.hall
    day = eng.day_phase(now)
    ids = [window] if window is not None else [w.id for w in hall.windows]
    out = {
        "hall": hall.id, "hall_name": hall.name, "timezone": rt.config.timezone,
        "notice": (rt.config.sections.get("screen") or {}).get("notice", ""),
        "businesses": [{"code": b.code, "name": b.name} for b in hall.businesses],
        "windows": [window_card(eng, service.model, w, day["phase"]) for w in ids],
        "day": {"phase": day["phase"], "text": day["text"]},
        "announce_repeat": rt.config.announce_repeat,
        "voice": service.voice.enabled,
        "now_ms": int(now * 1000),
    }
    if window is None:
        out["board"] = service.model.board(eng, now)
    return out
