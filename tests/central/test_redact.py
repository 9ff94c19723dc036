"""What never leaves the hall for the central store: checked on the events as the core makes them,
through the very query the shipper reads its batches with."""

from __future__ import annotations

import json
import random
import sqlite3

from queued.central_link.redact import REDACTED, redact
from queued.central_link.shipper import BATCH_SQL
from queued.core import events as e
from queued.journal.schema import CORE_SCHEMA


def stored(event) -> tuple[str, str]:
    return event.kind, json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"))


def shipped(rows: list[tuple[str, float, str, str]], after: int = 0, limit: int = 500) -> list[dict]:
    """The events of a batch as the central service receives them, from a journal holding `rows`."""
    db = sqlite3.connect(":memory:")
    db.executescript(CORE_SCHEMA)
    db.executemany("INSERT INTO events (day, at, kind, data) VALUES (?,?,?,?)", rows)
    n, last, first_at, events = db.execute(BATCH_SQL, (after, limit)).fetchone()
    if not n:
        return []
    out = json.loads(b"[" + events + b"]")
    assert len(out) == n and out[-1]["seq"] == last and out[0]["at"] == first_at
    return out


def test_secrets_and_personal_data_are_blanked_and_the_rest_kept():
    issued = e.TicketIssued(1.0, "t-1", 1, "A001", "A", "wechat", "normal", openid="o-wechat", rating_key="k-secret")
    bound = e.CaseBound(2.0, 7, "t-1", "1", "330100-2026-000123", applicant_name="张三",
                        applicant_id="330102199001011234", applicant_phone="13812341234")
    rows = [("2026-12-01", ev.at, *stored(ev)) for ev in (issued, bound)]
    for ship in (shipped(rows), [{"data": json.loads(redact(k, d))} for _, _, k, d in rows]):
        out = ship[0]["data"]
        assert out["rating_key"] is None and out["openid"] is None
        assert {k: v for k, v in out.items() if k not in REDACTED["ticket_issued"]} == \
            {k: v for k, v in issued.to_dict().items() if k not in REDACTED["ticket_issued"]}
        text = json.dumps(ship[1]["data"], ensure_ascii=False)
        assert "张三" not in text and "1234" not in text.replace("330100-2026-000123", "")
        assert ship[1]["data"]["project_no"] == "330100-2026-000123"


def test_a_batch_is_the_journal_as_stored_in_order_with_exact_times():
    rng = random.Random(3)
    rows = []
    for i in range(700):
        at = 1_764_547_200 + rng.random() * 86_400
        at = [at, round(at, 3), float(int(at)), 5][i % 4]
        rows.append(("2026-12-01", at, "ticket_called", json.dumps({"at": at, "window": "1", "n": i, "名": "中é\n\""},
                                                                ensure_ascii=False, separators=(",", ":"))))
    out = shipped(rows, after=100, limit=500)
    assert [x["seq"] for x in out] == list(range(101, 601))
    for x, (day, at, kind, data) in zip(out, rows[100:600], strict=True):
        assert (x["day"], x["at"], x["kind"], x["data"]) == (day, at, kind, json.loads(data))
    assert shipped(rows, after=700) == []


def test_the_query_blanks_as_the_rule_says_for_any_text_a_citizen_could_send():
    """For any openid a citizen's WeChat could carry, quotes, backslashes and the text of a field
    inside another field's value included, the query gives what the rule (redact) gives: no key,
    no openid, no applicant's data leave the hall, every other field as it was."""
    rng = random.Random(7)
    alphabet = 'abcXYZ09_-"\\:,{}[] 中é\n'
    rows, expected = [], []
    for i in range(3000):
        kind = rng.choice(list(REDACTED))
        d: dict = {"at": 1.5, "ticket": "t1", "number": "A001"}
        for f in REDACTED[kind]:
            r = rng.random()
            if r < 0.7:
                d[f] = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
            elif r < 0.85:
                d[f] = None
        if rng.random() < 0.3:
            d["priority"] = '"openid":"oX","phone":"138"'
        data = json.dumps(d, ensure_ascii=False, separators=(",", ":") if i % 2 else None)
        rows.append(("2026-12-01", 1.5, kind, data))
        expected.append(json.loads(redact(kind, data)))
    got = [x["data"] for x in shipped(rows, limit=5000)]
    assert got == expected
    for kind, d in zip((r[2] for r in rows), got, strict=True):
        assert all(d.get(f) in (None, "") for f in REDACTED[kind])


def test_other_kinds_ship_as_stored():
    data = '{"at":1.0,"window":"1","ticket":"t-1"}'
    assert redact("ticket_called", data) is data
    assert shipped([("2026-12-01", 1.0, "ticket_called", data)])[0]["data"] == json.loads(data)
