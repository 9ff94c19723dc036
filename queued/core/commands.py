"""Commands: what people and devices ask of the hall. The engine answers with events or a CoreError."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class IssueTicket:
    business: str
    ticket_id: str  # chosen by the caller (random), so the core needs no randomness
    channel: str = "kiosk"
    priority: str = "normal"
    openid: str | None = None
    due_at: float | None = None
    appointment: str | None = None
    rating_key: str | None = None  # the holder's proof, chosen by the caller (random) like ticket_id


@dataclass(slots=True)
class CancelTicket:
    """Cancel a waiting ticket. The holder proves it with `key` (the ticket's rating_key) or with
    `openid`, which callers set only from a WeChat session they verified, never from a body."""

    ticket: str
    openid: str | None = None
    reason: str = "holder"
    check_holder: bool = True
    key: str | None = None


@dataclass(slots=True)
class WindowCommand:
    """An action at a window. `as_clerk`: the clerk the caller's token names; when another clerk (or
    nobody) is signed in there, the action signs them in first, in the same decision: refused as a
    whole when the action does not fit, so a refused action never moves a clerk."""

    window: str
    as_clerk: str | None = field(default=None, kw_only=True)


@dataclass(slots=True)
class CallNext(WindowCommand):
    pass


@dataclass(slots=True)
class Recall(WindowCommand):
    pass


@dataclass(slots=True)
class Skip(WindowCommand):
    pass


@dataclass(slots=True)
class Start(WindowCommand):
    pass


@dataclass(slots=True)
class Finish(WindowCommand):
    """办结, with how the case ended: one of `[hall] outcomes`; `failed` (办不成) needs a note."""

    outcome: str = "done"
    note: str = ""


@dataclass(slots=True)
class Pause(WindowCommand):
    """暂停, with one of `[hall] pause_reasons` (or none): 电子监察 counts paused time by reason."""

    reason: str | None = None


@dataclass(slots=True)
class Resume(WindowCommand):
    pass


@dataclass(slots=True)
class CloseWindow(WindowCommand):
    pass


@dataclass(slots=True)
class Transfer(WindowCommand):
    """转移 to a business or a window. `place`: front (called next there), end (the back of the line),
    issued (where its issue time would have placed it)."""

    business: str | None = None
    to_window: str | None = None
    place: str = "front"


@dataclass(slots=True)
class Park(WindowCommand):
    """挂起 (容缺: the citizen fetches a missing document): the serving case is set aside, still this
    window's, and the window may call others."""

    reason: str = ""


@dataclass(slots=True)
class Unpark(WindowCommand):
    """回呼: a parked case of this window comes back as its current case (serving)."""

    ticket: str = ""


@dataclass(slots=True)
class CallNumber(WindowCommand):
    """特呼: call one waiting (or skipped) ticket out of turn."""

    number: str = ""


@dataclass(slots=True)
class SignIn(WindowCommand):
    clerk: str = ""


@dataclass(slots=True)
class SignOut(WindowCommand):
    pass


@dataclass(slots=True)
class BindCase(WindowCommand):
    """Bind a 办件 to the ticket the window is serving (from the 一窗受理 system or the clerk)."""

    project_no: str = ""
    item_code: str = ""
    item_name: str = ""
    dept_code: str = ""
    applicant_name: str = ""
    applicant_id: str = ""
    applicant_phone: str = ""
    applicant_type: str = "1"


@dataclass(slots=True)
class CloseOutDay:
    """At `[hall] hard_close`: what still waits is closed out unserved (留号, cancel_reason day_closed).
    Nothing else ends the day early: at `closes` the windows keep serving (延时服务)."""


@dataclass(slots=True)
class RollDay:
    """Start the new hall day if midnight has passed (a timer sends it just after midnight, so the
    day's figures end at the day's end, not at the next morning's first command)."""


__all__ = [
    "IssueTicket",
    "CancelTicket",
    "WindowCommand",
    "CallNext",
    "Recall",
    "Skip",
    "Start",
    "Finish",
    "Pause",
    "Resume",
    "CloseWindow",
    "Transfer",
    "CallNumber",
    "SignIn",
    "SignOut",
    "BindCase",
    "Park",
    "Unpark",
    "CloseOutDay",
    "RollDay",
]
