"""What of a hall's events never leaves the hall for the city's central store.

The central service builds the city's queue and review reports; it needs no citizen's secrets
and no personal data. Shipping the journal as it is would copy, for every ticket, the holder's
`rating_key` (the only proof that lets a rating or a cancel be made: whoever reads the central
database could rate the hall's open cases) and WeChat `openid`, and for every 办件 the applicant's
name, ID number and phone (kept in the hall for the 差评 call-back and the provincial push only),
the phone a citizen left after a 差评, and the token of the 二次评价 link.

The fields are blanked, not removed, so every event keeps the shape its kind promises (the
central projector's checks) and its seq (exactly-once delivery compares seqs, not contents).
"""

from __future__ import annotations

import json
import re

# kind → fields blanked before shipping, and what they become.
REDACTED: dict[str, dict[str, object]] = {
    "ticket_issued": {"rating_key": None, "openid": None},
    "case_bound": {"applicant_name": "", "applicant_id": "", "applicant_phone": ""},
    "contact_given": {"phone": ""},
    "recheck_issued": {"token": ""},
}


# ticket_issued is most of a busy day's events: its two fields are blanked in the stored text itself
# (the journal's compact JSON of a flat object; a string value's quotes are always escaped, so
# `"openid":"` never matches inside one), not by a parse and a dump each (~5 µs, 2.5 ms of the
# hall's loop for a 500-event batch). Anything unexpected goes the long way.
_ISSUED = re.compile(r'"(rating_key|openid)":("(?:[^"\\]|\\.)*"|null)')


def _issued(data: str) -> str | None:
    if not data.startswith("{") or "{" in data[1:] or "[" in data:
        return None  # not the flat object the journal writes: the long way
    out, n = _ISSUED.subn(lambda m: f'"{m.group(1)}":null', data)
    if n != data.count('"rating_key":') + data.count('"openid":'):
        return None  # a field written some other way: the long way, never a field left in place
    return out


def redact(kind: str, data: str) -> str:
    """The event's JSON as shipped: the stored text itself unless its kind carries what stays home."""
    blank = REDACTED.get(kind)
    if blank is None:
        return data
    if kind == "ticket_issued":
        fast = _issued(data)
        if fast is not None:
            return fast
    d = json.loads(data)
    if not isinstance(d, dict):
        return data
    for field, value in blank.items():
        if d.get(field) not in (None, ""):
            d[field] = value
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


__all__ = ["REDACTED", "redact"]
