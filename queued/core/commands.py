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
    pass


@dataclass(slots=True)
class Pause(WindowCommand):
    pass


@dataclass(slots=True)
class Resume(WindowCommand):
    pass


@dataclass(slots=True)
class CloseWindow(WindowCommand):
    pass


@dataclass(slots=True)
class Transfer(WindowCommand):
    business: str | None = None
    to_window: str | None = None


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
class CloseDay:
    """当日业务不留号: at closing time every waiting ticket is closed as not served."""


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
    "CloseDay",
]
