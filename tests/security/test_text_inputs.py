"""No input stops the daemon (http-api.md 1.1, Auth): text SQLite or JSON cannot store (an unpaired
surrogate, NUL and other control characters) is refused with 422 `bad_request` in every field, query
and path parameter and cookie, and the runtime refuses such a command before it decides, so the
journal never fails on it. Deeply nested JSON and out-of-range dates are 4xx, never a 500."""

from __future__ import annotations

import os
import subprocess

import pytest

from queued.errors import ConfigError
from tests.security.inputs_hall import bearer, client, demo_session, fingerprint, full_hall, served
from tests.security.test_holder_rating import err
from tests.support import QUEUED, hall_toml

SURROGATE = '"\\ud800"'  # the JSON text of an unpaired surrogate
BAD_TEXTS = [SURROGATE, '"a\\u0000b"', '"\\u001b[31m"', '"x\\udfffy"', '"\\u007f"', '"\\u0085"']


def body_with(template: str, bad: str) -> bytes:
    return template.replace("@", bad).encode()


async def assert_refused(c, d, method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    before = await fingerprint(d)
    h = {"content-type": "application/json", **(headers or {})}
    r = await c.request(method, url, content=body, headers=h)
    err(r, 422, "bad_request")
    assert d.runtime.journal.failed is None, d.runtime.journal.failed
    assert await fingerprint(d) == before, (method, url, body)


async def test_a_surrogate_in_a_rating_comment_is_refused_and_the_daemon_keeps_working(make_daemon):
    d = await full_hall(make_daemon)
    async with client(d) as c:
        case = await served(c, d)
        t, key = case["issued"]["id"], case["issued"]["rating_key"]
        for bad in BAD_TEXTS:
            body = body_with(f'{{"ticket": "{t}", "key": "{key}", "level": 1, "reasons": [1], "comment": @}}', bad)
            await assert_refused(c, d, "POST", "/api/v1/ratings", body)
        assert (await c.get("/healthz")).status_code == 200
        # Line breaks and tabs are text; the case can still be rated.
        r = await c.post("/api/v1/ratings", json={"ticket": t, "key": key, "level": 1, "reasons": [1],
                                                  "comment": "等了很久\n\t窗口没人"})
        assert r.status_code == 201, r.text


async def test_every_text_field_refuses_unstorable_text(make_daemon):
    d = await full_hall(make_daemon)
    kiosk, admin = bearer(d, "kiosk"), bearer(d, "admin")
    clerk = bearer(d, "clerk", "1", "1001")
    async with client(d) as c:
        case = await served(c, d)
        t = case["issued"]["id"]
        n = case["finish"]["finished"]["case"]
        r = await c.post("/api/v1/ratings", json={"ticket": t, "key": case["issued"]["rating_key"], "level": 1,
                                                  "reasons": [1]})
        assert r.status_code == 201
        await demo_session(c)
        routes = [
            ("POST", "/api/v1/tickets", '{"business": "A", "openid": @}', kiosk),
            ("POST", "/api/v1/tickets", '{"business": @}', kiosk),
            ("POST", "/api/v1/tickets", '{"business": "A", "channel": @}', kiosk),
            ("DELETE", f"/api/v1/tickets/{t}", '{"key": @}', {}),
            ("DELETE", f"/api/v1/tickets/{t}", '{"openid": @}', {}),
            ("POST", "/api/v1/ratings", '{"ticket": @, "level": 5}', {}),
            ("POST", "/api/v1/ratings", f'{{"ticket": "{t}", "key": @, "level": 5}}', {}),
            ("POST", "/api/v1/windows/1/call", '{"number": @}', clerk),
            ("POST", "/api/v1/windows/1/sign-in", '{"clerk": @}', clerk),
            ("POST", "/api/v1/windows/1/sign-in", '{"clerk": "1002", "pin": @}', clerk),
            ("POST", "/api/v1/windows/1/transfer", '{"business": @}', clerk),
            ("POST", "/api/v1/windows/1/transfer", '{"window": @}', clerk),
            ("POST", "/clerk/login", '{"token": @}', {}),
            ("POST", "/clerk/login", '{"clerk": "1001", "pin": @, "window": "1"}', {}),
            ("POST", "/clerk/login", '{"clerk": @, "pin": "1001", "window": "1"}', {}),
            ("POST", f"/api/v1/followups/{n}/callback", '{"outcome": "reached", "note": @}', admin),
            ("POST", f"/api/v1/followups/{n}/callback", '{"outcome": "reached", "note": "x", "by": @}', admin),
            ("POST", f"/api/v1/followups/{n}/appeal", '{"reason": @}', admin),
            ("POST", "/api/v1/appointments", '{"business": "A", "day": @, "start": "10:30"}', {}),
            ("POST", "/api/v1/appointments", '{"business": "A", "day": "2026-01-01", "start": @}', kiosk),
            ("POST", "/api/v1/appointments", '{"business": "A", "day": "2026-01-01", "start": "10:30", "openid": @}',
             kiosk),
            ("POST", "/api/v1/appointments/check-in", '{"code": @}', kiosk),
            ("POST", "/api/v1/tickets", '{"business": "A", "nested": {"deep": [1, @]}}', kiosk),
            ("POST", "/api/v1/tickets", '{@: "A"}', kiosk),
        ]
        for method, url, template, headers in routes:
            for bad in (SURROGATE, '"a\\u0000b"', '"\\u0007"'):
                await assert_refused(c, d, method, url, body_with(template, bad), headers)
        # Forms (the kiosk, the /admin and the /m sign-in pages) are text too.
        before = await fingerprint(d)
        for url, form in [("/kiosk/login", {"token": "a\x00b"}), ("/admin/login", {"token": "\x00"}),
                          ("/m/demo-login", {"next": "/m\x00"})]:
            r = await c.post(url, data=form)
            err(r, 422, "bad_request")
        await c.get(f"/kiosk?token={bearer(d, 'kiosk')['Authorization'][7:]}")
        r = await c.post("/kiosk/take", data={"business": "A\x00"})
        err(r, 422, "bad_request")
        assert await fingerprint(d) == before
    assert (await fingerprint(d))[0] > 0


@pytest.mark.parametrize("url", [
    "/api/v1/tickets/%00",
    "/api/v1/tickets/ab%1Bcd",
    "/m/t/%00",
    "/kiosk/t/%07",
    "/api/v1/windows/1%00",
    "/api/v1/appointments/slots?business=A%00",
    "/api/v1/appointments/slots?business=A&day=2026-01-01%00",
    "/api/v1/reports/reviews?from=%00",
    "/results?month=%00",
    "/admin/reviews?from=%1B",
    "/m?next=%00",
    "/api/v1/hall?x%00=1",
])
async def test_query_and_path_parameters_refuse_control_characters(make_daemon, url):
    d = await full_hall(make_daemon)
    async with client(d) as c:
        before = await fingerprint(d)
        r = await c.get(url, headers=bearer(d, "admin"))
        err(r, 422, "bad_request")
        assert await fingerprint(d) == before


async def test_cookies_with_control_characters_are_refused(make_daemon):
    d = await full_hall(make_daemon)
    async with client(d) as c:
        for cookie in (b"qm_session=a\x01b", b"queued_admin=\x00", b"queued_clerk=x\x7f", b"other=\x1b"):
            r = await c.get("/api/v1/hall", headers=[(b"cookie", cookie)])
            err(r, 422, "bad_request")
        # Non-ASCII bytes in one of our cookies are no session, and no 500.
        for cookie in ("qm_session=\u00e9\u00e9.\u00e9".encode("latin-1"), "queued_admin=\u00ff.x".encode("latin-1"),
                       "queued_clerk=a.\u00fe".encode("latin-1")):
            r = await c.post("/api/v1/tickets", json={"business": "A"}, headers=[(b"cookie", cookie)])
            err(r, 401, "unauthorized")
            r = await c.get("/m", headers=[(b"cookie", cookie)])
            assert r.status_code < 500
            r = await c.get("/admin", headers=[(b"cookie", cookie)])
            assert r.status_code < 500


async def test_the_runtime_refuses_a_command_it_could_not_journal(make_daemon):
    """Whatever the path (a pad, a timer, a future route that forgets to check), a command whose text
    cannot be encoded is refused before the decision, with nothing changed."""
    from evaluator.commands import Rate
    from queued.core import commands as cmd
    from queued.core.errors import CoreError
    from queued.runtime import new_ticket_id

    d = await full_hall(make_daemon)
    rt = d.runtime
    async with client(d) as c:
        case = await served(c, d)
    before = await fingerprint(d)
    commands = [
        cmd.IssueTicket("A", new_ticket_id(), "kiosk", "normal", "\ud800"),
        cmd.IssueTicket("A", new_ticket_id(), "kiosk", "normal", "o\x00pen"),
        cmd.IssueTicket("A", "\udcff" + new_ticket_id()),
        cmd.CallNumber("1", number="\ud800"),
        Rate(1, ticket=case["issued"]["id"], key=case["issued"]["rating_key"], comment="差\ud800评"),
        Rate(1, case=case["finish"]["finished"]["case"], channel="pad", window="1", comment="\x00"),
    ]
    for command in commands:
        with pytest.raises(CoreError) as info:
            await rt.execute(command)
        assert info.value.code == "bad_request"
        with pytest.raises(CoreError):
            rt.decide(command)
    assert rt.journal.failed is None
    assert await fingerprint(d) == before
    assert rt.engine.counters["A"] == 1


@pytest.mark.parametrize("depth", [100, 5000, 100_000])
async def test_deeply_nested_json_is_a_4xx_on_every_json_route(make_daemon, depth):
    d = await full_hall(make_daemon)
    admin = bearer(d, "admin")
    body = ('{"a": ' + "[" * depth + "]" * depth + "}").encode()
    routes = [("POST", "/api/v1/tickets"), ("POST", "/api/v1/ratings"), ("POST", "/api/v1/windows/1/call"),
              ("POST", "/api/v1/windows/1/call-next"), ("DELETE", "/api/v1/tickets/x"),
              ("POST", "/api/v1/appointments"), ("POST", "/api/v1/appointments/check-in"),
              ("POST", "/clerk/login"), ("POST", "/api/v1/followups/1/callback")]
    async with client(d) as c:
        before = await fingerprint(d)
        for method, url in routes:
            r = await c.request(method, url, content=body, headers={**admin, "content-type": "application/json"})
            assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:200])
            assert r.json()["error"]["code"], url
        assert await fingerprint(d) == before


@pytest.mark.parametrize("url", [
    "/results?month=9999-12",
    "/results?month=0001-01",
    "/results?month=0000-01",
    "/api/v1/reports/reviews?from=9999-12-31&to=9999-12-31",
    "/api/v1/reports/reviews?from=0001-01-01&to=0001-01-01",
    "/api/v1/reports/queues?from=9999-12-31&to=9999-12-31&group_by=day",
    "/api/v1/reports/national?from=9999-12-31&to=9999-12-31",
    "/api/v1/reports/followups?from=9999-12-31&to=9999-12-31",
    "/api/v1/reports/followups?from=0001-01-01&to=0001-01-01&group_by=month",
    "/api/v1/followups?from=9999-12-31&to=9999-12-31",
    "/api/v1/appointments/slots?business=A&day=9999-12-31",
    "/api/v1/appointments/slots?business=A&day=0001-01-01",
    "/api/v1/appointments?day=9999-12-31",
    "/admin/reviews?from=9999-12-31&to=9999-12-31",
    "/admin/reviews?from=0001-01-01&to=0001-01-01",
    "/admin/followups?from=9999-12-31&to=9999-12-31",
])
async def test_dates_and_months_at_the_ends_of_the_calendar_are_not_a_500(make_daemon, url):
    d = await full_hall(make_daemon)
    async with client(d) as c:
        r = await c.get(url, headers=bearer(d, "admin"))
        assert r.status_code < 500, (url, r.status_code, r.text[:300])


def test_the_cli_refuses_unstorable_text_with_a_message(tmp_path):
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(tmp_path / "cli.sqlite3")), encoding="utf-8")
    for args in ([b"token", b"create", b"--role", b"kiosk", b"--label", b"\xff\xfe"],
                 [b"token", b"create", b"--role", b"kiosk", b"--label", b"a\x01b"],
                 [b"token", b"create", b"--role", b"clerk", b"--window", b"1\x1b"],
                 [b"token", b"revoke", b"qd_\xed\xa0\x80abcdefgh"]):
        p = subprocess.run([QUEUED.encode(), *args, b"--config", str(conf).encode()], capture_output=True,
                           env={**os.environ, "LC_ALL": "C.UTF-8"}, timeout=60)
        assert p.returncode == 2, (args, p.returncode, p.stderr.decode(errors="replace"))
        assert b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")
        assert b"control character" in p.stderr or b"not valid text" in p.stderr, p.stderr


@pytest.mark.parametrize("where, text", [
    ("hall name", ('name = "高新区政务服务中心"', 'name = "高新\\u0000区"')),
    ("business name", ('name = "综合受理"', 'name = "综合\\u001b[2J受理"')),
    ("clerk name", ('name = "张三"', 'name = "张\\u0007三"')),
    ("clerk pin", ('pin = "1001"', 'pin = "10\\u000001"')),
    ("reasons", ('max_wait_minutes = 60', 'max_wait_minutes = 60\nreasons = ["慢\\u0085"]')),
])
def test_the_config_refuses_control_characters_naming_the_key(tmp_path, where, text):
    from queued.config import parse_config

    old, new = text
    source = hall_toml(str(tmp_path / "c.sqlite3"))
    assert old in source
    with pytest.raises(ConfigError) as info:
        parse_config(source.replace(old, new, 1), source="test")
    message = str(info.value)
    assert "control character" in message and "line" in message, message


def test_the_environment_refuses_unstorable_text(tmp_path):
    from queued.config import load_config

    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(tmp_path / "e.sqlite3")), encoding="utf-8")
    for name, value in (("QUEUED_MQTT_PASSWORD", "pa\udcffss"), ("QUEUED_HTTP", "127.0.0.1:80\x0080")):
        with pytest.raises(ConfigError) as info:
            load_config(conf, env={name: value})
        assert name in str(info.value)
