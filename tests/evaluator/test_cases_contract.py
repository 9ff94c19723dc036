"""一事一评, the data every other part reads: 办件 bound to a ticket become one `cases` row each, with
ids from the serial counter; ratings carry a UUID and the 办件编号; old databases are migrated."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from evaluator.commands import Rate, RatingTimeout
from queued.core import commands as c
from queued.core.errors import DuplicateCase, InvalidState
from tests.evaluator.conftest import EVALUATOR
from tests.evaluator.helpers import serve

APPLICANT = dict(applicant_name="王小明", applicant_id="330102199001011234", applicant_phone="13812345678")


def bind(window: str, project_no: str, **kw) -> c.BindCase:
    return c.BindCase(window, project_no, kw.pop("item_code", "330100-001"), kw.pop("item_name", "营业执照"),
                      kw.pop("dept_code", "11330100MB0000000X"), **{**APPLICANT, **kw})


async def call(api, tokens, business: str = "A") -> str:
    r = await api.post("/api/v1/tickets", json={"business": business}, headers=tokens["kiosk"])
    ticket = r.json()["id"]
    r = await api.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])
    assert r.json()["ticket"]["id"] == ticket
    return ticket


async def rows(daemon, sql: str, params=()) -> list[dict]:
    await daemon.runtime.journal.append([])
    return [dict(r) for r in await daemon.runtime.journal.fetchall(sql, params)]


async def test_two_bound_cases_become_two_rows_with_ids_from_the_serial_counter(api, tokens, daemon):
    rt = daemon.runtime
    ticket = await call(api, tokens)
    serial = rt.engine.tickets[ticket].serial
    (first,), _ = await rt.execute(bind("1", "330100202611110001"))
    (second,), _ = await rt.execute(bind("1", "330100202611110002", item_name="食品经营许可", applicant_type="2"))
    assert (first.case, second.case) == (serial + 1, serial + 2)
    r = await api.post("/api/v1/tickets", json={"business": "B"}, headers=tokens["kiosk"])
    assert rt.engine.tickets[r.json()["id"]].serial == serial + 3  # never a case's id
    r = await api.post("/api/v1/windows/1/finish", headers=tokens["clerk1"])
    assert r.status_code == 200
    cases = await rows(daemon, "SELECT * FROM cases ORDER BY case_id")
    assert [x["case_id"] for x in cases] == [first.case, second.case]  # no implicit case beside them
    one, two = cases
    assert (one["ticket"], one["project_no"], one["item_name"], one["dept_code"]) == (
        ticket, "330100202611110001", "营业执照", "11330100MB0000000X")
    assert (one["applicant_name"], one["applicant_id"], one["applicant_phone"], one["applicant_type"]) == (
        "王小明", "330102199001011234", "13812345678", "1")
    assert (two["project_no"], two["item_name"], two["applicant_type"]) == ("330100202611110002", "食品经营许可", "2")
    assert one["bound_at"] == first.at and one["window"] == "1" and one["clerk"] == "1001"
    assert one["state"] == two["state"] == "open"


async def test_a_ticket_with_no_bound_case_keeps_its_implicit_case(api, tokens, daemon):
    ticket = await serve(api, tokens)
    (row,) = await rows(daemon, "SELECT case_id, project_no, applicant_type FROM cases WHERE ticket=?", (ticket,))
    assert row == {"case_id": daemon.runtime.engine.tickets[ticket].serial, "project_no": None, "applicant_type": "1"}


async def test_binding_needs_a_current_ticket_and_a_new_project_no(api, tokens, daemon):
    rt = daemon.runtime
    with pytest.raises(InvalidState):
        await rt.execute(bind("1", "P-1"))  # nobody at the window
    await call(api, tokens)
    await rt.execute(bind("1", "P-1"))
    with pytest.raises(DuplicateCase):
        await rt.execute(bind("1", "P-1"))
    assert len(await rows(daemon, "SELECT * FROM case_bindings")) == 1


async def test_ratings_carry_their_uuid_and_project_no_each_case_rated_once(api, tokens, daemon):
    rt = daemon.runtime
    ticket = await call(api, tokens)
    (a,), _ = await rt.execute(bind("1", "P-A"))
    (b,), _ = await rt.execute(bind("1", "P-B"))
    await api.post("/api/v1/windows/1/finish", headers=tokens["clerk1"])
    adapter = daemon.adapter("EvaluatorAdapter")
    key = rt.engine.tickets[ticket].rating_key  # the holder's, from the ticket's QR code
    first = await adapter.rate(Rate(5, ticket=ticket, key=key))  # no case named: the first unrated
    second = await adapter.rate(Rate(2, ticket=ticket, key=key, reasons=1))
    assert (first.case, first.project_no, second.case, second.project_no) == (a.case, "P-A", b.case, "P-B")
    assert uuid.UUID(first.rating_id) and first.rating_id != second.rating_id
    stored = await rows(daemon, "SELECT case_id, rating_id, level FROM ratings ORDER BY case_id")
    assert stored == [{"case_id": a.case, "rating_id": first.rating_id, "level": 5},
                      {"case_id": b.case, "rating_id": second.rating_id, "level": 2}]
    r = await api.post("/api/v1/ratings", json={"ticket": ticket, "key": key, "level": 5})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_rated")


async def test_prompts_of_a_tickets_cases_follow_one_another(api, tokens, daemon):
    rt = daemon.runtime
    book = daemon.adapter("EvaluatorAdapter").book
    key = rt.engine.tickets[await call(api, tokens)].rating_key
    (a,), _ = await rt.execute(bind("1", "P-A"))
    (b,), _ = await rt.execute(bind("1", "P-B"))
    (d,), _ = await rt.execute(bind("1", "P-C"))
    await api.post("/api/v1/windows/1/finish", headers=tokens["clerk1"])
    await rt.journal.append([])
    for _ in range(100):
        if book.prompts:
            break
        await rt.journal.append([])
    assert [x.case for x in book.open_prompts("1")] == [a.case]  # one prompt at a time
    adapter = daemon.adapter("EvaluatorAdapter")
    await adapter.rate(Rate(4, case=d.case, key=key))  # the third rated by QR meanwhile
    assert [x.case for x in book.open_prompts()] == [a.case]
    events, _ = await rt.execute(Rate(5, case=a.case, key=key, rating_id=str(uuid.uuid4())))
    assert [(x.kind, x.case) for x in events] == [("rating_recorded", a.case), ("rating_requested", b.case)]
    events, _ = await rt.execute(RatingTimeout(b.case))
    assert [x.kind for x in events] == ["rating_timed_out"]  # the third was rated: nothing follows
    assert book.open_prompts() == []


async def test_case_ids_are_not_reused_after_a_restart(api, tokens, daemon, make_daemon):
    rt = daemon.runtime
    await call(api, tokens)
    (a,), _ = await rt.execute(bind("1", "P-A"))
    await daemon.stop()
    again = await make_daemon(adapters=[EVALUATOR])
    assert again.runtime.engine.next_serial == a.case + 1
    assert again.runtime.engine.bound_projects == {"P-A": a.case}  # today's, by replay


def old_database(path) -> None:
    """A database as the version before 一事一评 left it: one case per ticket, unique on ticket."""
    conn = sqlite3.connect(path)
    conn.executescript("""
    CREATE TABLE cases (case_id INTEGER PRIMARY KEY, ticket TEXT NOT NULL, day TEXT NOT NULL, number TEXT NOT NULL,
        business TEXT NOT NULL, window TEXT NOT NULL, clerk TEXT, finished_at REAL NOT NULL, wait_s REAL,
        service_s REAL, state TEXT NOT NULL DEFAULT 'open', level INTEGER, defaulted INTEGER NOT NULL DEFAULT 0,
        reasons INTEGER NOT NULL DEFAULT 0, rated_at REAL);
    CREATE UNIQUE INDEX cases_ticket ON cases(ticket);
    CREATE TABLE ratings (case_id INTEGER PRIMARY KEY, ticket TEXT NOT NULL, day TEXT NOT NULL, at REAL NOT NULL,
        business TEXT NOT NULL, window TEXT NOT NULL, clerk TEXT, level INTEGER, reasons INTEGER NOT NULL DEFAULT 0,
        comment TEXT NOT NULL DEFAULT '', channel TEXT NOT NULL, defaulted INTEGER NOT NULL DEFAULT 0,
        no_reason INTEGER NOT NULL DEFAULT 0, replaced TEXT);
    INSERT INTO cases (case_id, ticket, day, number, business, window, finished_at, state, level)
        VALUES (7, 'old-ticket', '2026-01-05', 'A007', 'A', '1', 1767580000, 'rated', 5);
    INSERT INTO ratings (case_id, ticket, day, at, business, window, level, channel)
        VALUES (7, 'old-ticket', '2026-01-05', 1767580100, 'A', '1', 5, 'qr');
    """)
    conn.commit()
    conn.close()


async def test_a_database_of_the_previous_version_is_migrated(tmp_path, make_daemon):
    old_database(tmp_path / "hall.sqlite3")
    d = await make_daemon(adapters=[EVALUATOR])
    j = d.runtime.journal
    columns = {r[1] for r in await j.fetchall("PRAGMA table_info(cases)")}
    assert {"project_no", "item_code", "item_name", "dept_code", "applicant_name", "applicant_id",
            "applicant_phone", "applicant_type", "bound_at"} <= columns
    assert "rating_id" in {r[1] for r in await j.fetchall("PRAGMA table_info(ratings)")}
    indexes = {r[1]: r[2] for r in await j.fetchall("PRAGMA index_list(cases)")}
    assert "cases_ticket" not in indexes and indexes["cases_project_no"] == 1
    old = await j.fetchone("SELECT case_id, level, project_no, applicant_type FROM cases")
    assert tuple(old) == (7, 5, None, "1")  # history kept
