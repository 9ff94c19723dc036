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
