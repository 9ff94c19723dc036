"""What never leaves the hall for the central store: checked on the events as the core makes them."""

from __future__ import annotations

import json

from queued.central_link.redact import REDACTED, redact
from queued.core import events as e


def stored(event) -> tuple[str, str]:
    return event.kind, json.dumps(event.to_dict(), ensure_ascii=False)


def test_secrets_and_personal_data_are_blanked_and_the_rest_kept():
    issued = e.TicketIssued(1.0, "t-1", 1, "A001", "A", "wechat", "normal", openid="o-wechat", rating_key="k-secret")
    kind, data = stored(issued)
    out = json.loads(redact(kind, data))
    assert out["rating_key"] is None and out["openid"] is None
    assert {k: v for k, v in out.items() if k not in REDACTED[kind]} == \
        {k: v for k, v in json.loads(data).items() if k not in REDACTED[kind]}

    bound = e.CaseBound(2.0, 7, "t-1", "1", "330100-2026-000123", applicant_name="张三",
                        applicant_id="330102199001011234", applicant_phone="13812341234")
    kind, data = stored(bound)
    shipped = redact(kind, data)
    assert "张三" not in shipped and "1234" not in shipped.replace("330100-2026-000123", "")
    assert json.loads(shipped)["project_no"] == "330100-2026-000123"


def test_other_kinds_ship_as_stored():
    data = '{"at":1.0,"window":"1","ticket":"t-1"}'
    assert redact("ticket_called", data) is data


def test_the_fast_blanking_of_issued_tickets_agrees_with_parsing_them():
    """ticket_issued (most of a day's events) is blanked in its stored text; for any openid a
    citizen's WeChat could carry, quotes and backslashes included, the result is what parsing it
    gives: no key and no openid leave the hall, every other field as it was."""
    import json
    import random

    from queued.central_link.redact import redact

    rng = random.Random(7)
    alphabet = 'abcXYZ09_-"\\\\:,{}[] 中é\\n'
    for _ in range(3000):
        d = {"at": 1.5, "ticket": "t1", "number": "A001", "business": "A", "channel": "wechat"}
        for f in ("rating_key", "openid"):
            if rng.random() < 0.8:
                d[f] = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        if rng.random() < 0.3:
            d["priority"] = '"openid":"oX"'  # the text of a field inside another field's value
        data = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
        out = json.loads(redact("ticket_issued", data))
        assert out.get("rating_key") in (None, "") and out.get("openid") in (None, ""), data
        assert {k: v for k, v in out.items() if k not in ("rating_key", "openid")} == \
            {k: v for k, v in d.items() if k not in ("rating_key", "openid")}
    spaced = json.dumps({"ticket": "t", "openid": "oSECRET", "rating_key": "K"})  # not compact
    assert "oSECRET" not in redact("ticket_issued", spaced) and '"K"' not in redact("ticket_issued", spaced)
