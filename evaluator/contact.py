"""The citizen's phone for the 差评 call-back (回访) and the 二次评价 link.

Two sources, both checked by `queued.core.phone.normalize_phone` (a number that does not check is
refused with a 4xx and nothing is stored):
- the 办件: `applicant_phone`, bound with it by the 一窗受理 system (`cases.applicant_phone`);
- the citizen, on the WeChat/QR page after a 差评, with an explicit consent box ("同意工作人员就本次
  评价回访我"): `GiveContact` → `ContactGiven`, journaled, kept in `case_contacts` (one row per case;
  a later number replaces the earlier one, the journal keeps both). Only the holder gives it (the
  ticket's rating key or the WeChat session of its openid) and only for a case rated 差评.

The full number is shown only to the supervisor handling the follow-up (`can_see_phone`); lists,
exports, logs and every other role get `mask_phone` (138****1234).
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluator.book import holder_channel
from evaluator.errors import EvaluatorError, InvalidRating, UnknownCase
from evaluator.events import is_bad
from queued.core.errors import CoreError
from queued.core.events import Event, event
from queued.core.phone import mask_phone, normalize_phone
from queued.journal import projection

CONTACT_SCHEMA = """
CREATE TABLE IF NOT EXISTS case_contacts (
    case_id    INTEGER PRIMARY KEY,
    ticket     TEXT NOT NULL,
    phone      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    consent_at REAL NOT NULL
);
"""
projection.register_schema(CONTACT_SCHEMA)
SOURCE_TEXT = {"citizen": "群众本人留下（已同意回访）", "case": "办件登记"}


class NotBad(EvaluatorError):
    code = "invalid_state"  # 409


@dataclass(slots=True, frozen=True)
class GiveContact:
    phone: str
    consent: bool
    case: int | None = None
    ticket: str | None = None
    key: str | None = None
    openid: str | None = None


@event("contact_given")
class ContactGiven(Event):
    at: float
    case: int
    ticket: str
    phone: str
    channel: str  # qr | wechat: what proved the holder


class ContactBook:
    """Decides GiveContact against the rating book's cases and holders (read only)."""

    commands = (GiveContact,)

    def __init__(self, ratings):
        self.ratings = ratings

    def execute(self, cmd: GiveContact, now: float) -> list[Event]:
        if cmd.consent is not True:
            raise InvalidRating("请勾选“同意工作人员就本次评价回访我”后再提交手机号（consent is required）")
        phone = normalize_phone(cmd.phone)
        if not phone:
            raise InvalidRating("请填写手机号（phone is required）")
        ticket = cmd.ticket
        if ticket is None and cmd.case is not None:
            found = self.ratings.cases.get(cmd.case)
            ticket = found.ticket if found is not None else None
        holder = self.ratings.holders.get(ticket) if ticket is not None else None
        if holder is None:
            raise UnknownCase("没有这张票（no such ticket or case）")
        channel = holder_channel(holder[0], holder[1], cmd)  # proof first: a stranger learns nothing
        c = self.ratings.find(cmd.case, ticket)
        if c.state != "rated" or not is_bad(c.level):
            raise NotBad("只有差评需要回访，无需留下手机号（only a 差评 is called back）")
        return [ContactGiven(now, c.case, c.ticket, phone, channel)]

    def apply(self, ev: Event) -> None:
        pass


def _given(x: ContactGiven, day: str):
    yield ("INSERT OR REPLACE INTO case_contacts (case_id, ticket, phone, channel, consent_at) VALUES (?,?,?,?,?)",
           (x.case, x.ticket, x.phone, x.channel, x.at))


projection.register("contact_given", _given)


async def phones(journal, cases: list[int]) -> dict[int, tuple[str, str]]:
    """case → (phone, source) for the cases that have one: the citizen's own (given with consent)
    first, else the 办件's applicant phone. A stored number that does not check is left out."""
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(cases), 500):
        chunk = cases[i:i + 500]
        marks = ",".join("?" * len(chunk))
        rows = await journal.fetchall(
            f"SELECT c.case_id, cc.phone AS given, c.applicant_phone AS bound FROM cases c"
            f" LEFT JOIN case_contacts cc ON cc.case_id = c.case_id WHERE c.case_id IN ({marks})", chunk)
        for r in rows:
            for value, source in ((r["given"], "citizen"), (r["bound"], "case")):
                try:
                    phone = normalize_phone(value or "")
                except CoreError:  # a bad stored number is not a number
                    phone = ""
                if phone:
                    out[r["case_id"]] = (phone, source)
                    break
    return out


def can_see_phone(principal, leader: str | None) -> bool:
    """The supervisor handling the item: the window's leader when the item names one (a supervisor
    token made with --clerk <leader>), any supervisor when it names none. Admins (the system's
    operators) and every other role see the masked number."""
    if principal is None or principal.role != "supervisor":
        return False
    return leader is None or principal.clerk == leader


__all__ = ["ContactBook", "ContactGiven", "GiveContact", "NotBad", "can_see_phone", "mask_phone", "phones",
           "SOURCE_TEXT"]
