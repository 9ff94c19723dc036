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


def redact(kind: str, data: str) -> str:
    """The event's JSON as shipped, by the rule itself: a field of REDACTED present with a value
    becomes its blank (a null stays null, a missing field stays missing); other kinds ship as stored.

    This is the definition the shipper's SQL (`DATA_SQL`) is checked against; the shipper does not
    call it."""
    blank = REDACTED.get(kind)
    if blank is None:
        return data
    d = json.loads(data)
    if not isinstance(d, dict):
        return data
    for field, value in blank.items():
        if field in d and d[field] is not None:
            d[field] = value
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def _blank_sql(field: str, value: object) -> str:
    if value is None:
        return "json('null')"
    assert value == "", "blanks are null or the empty string"
    return f"IIF(json_type(data, '$.{field}') = 'null', json('null'), '')"


def _data_sql() -> str:
    # The same rule in SQLite's JSON functions, run on the journal's reader thread as part of the
    # batch query: the hall's loop never parses, blanks or re-encodes an event (ticket_issued is
    # most of a busy day; one parse and dump each was 2.5 ms of the loop a 500-event batch), and
    # SQLite parses the real JSON, so no text inside a value can hide a field. json_replace only
    # replaces what is there. Names are checked here: they are written into the statement.
    branches = []
    for kind, fields in REDACTED.items():
        assert re.fullmatch(r"[a-z_]+", kind) and all(re.fullmatch(r"[a-z_]+", f) for f in fields)
        args = ", ".join(f"'$.{f}', {_blank_sql(f, v)}" for f, v in fields.items())
        branches.append(f"WHEN '{kind}' THEN json_replace(data, {args})")
    return f"CASE kind {' '.join(branches)} ELSE data END"


DATA_SQL = _data_sql()


__all__ = ["DATA_SQL", "REDACTED", "redact"]
