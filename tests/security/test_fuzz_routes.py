"""Fuzz test over every route of the full daemon, driven by its own `/openapi.json` (issue 10: "No
input stops the daemon"; before, a surrogate in a comment stopped the daemon, deep JSON and
`/results?month=9999-12` gave 500s).

Every operation of the document (every route and method of every adapter) is sent, as anonymous
and as each role (Bearer kiosk, desk, clerk with and without a named clerk, integration,
supervisor, admin; and the cookie sessions of /m, /admin, /clerk and the kiosk), requests built
from its schema and spoilt: surrogates and control characters in paths, queries, cookies, headers
and every JSON or form field, deep JSON, huge numbers and NaN, wrong types, out-of-range dates and
months, wrong and missing content types, garbage bodies, foreign origins. First a sweep (each
operation × principal × five kinds of spoiling, deterministic), then hypothesis explores mixes
(derandomized, so CI runs the same requests). Asserted on every reply: no 5xx and no exception out
of the app; on every refused request (4xx): the journal, every table's row count and the engine's
windows and tickets unchanged (but for RECORDED_REFUSALS: a second rating of a case is refused and
counted by design); on /api/ the error shape.

Requests sent: 11,816 (7,816 in the sweep, 4,000 hypothesis examples) over the 75 operations main
had when this was written; 28–38 s on the 2-core machine under a load average of 10 from other
work (about 1 ms a request when quiet). The count grows with the routes; the count, the statuses
and each operation's statuses are printed and written to test-artifacts/fuzz-routes.txt.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from queued.auth import create_token
from queued.config import parse_config
from queued.daemon import ADAPTERS, Daemon
from tests.security.fuzz_asgi import (
    CONTENT_TYPES,
    HEADER_JUNK,
    HOSTILE_DAYS,
    HOSTILE_MONTHS,
    HOSTILE_NUMBERS,
    HOSTILE_TEXT,
    ORIGIN,
    Pools,
    call,
    deep,
    dumps,
    encode_component,
    fingerprint,
    hostile_value,
)
from tests.support import Clock, hall_toml

MONDAY_10AM = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
EXTRA = """
[wechat]
demo_login = true

[limits]
issue_per_address = 100000
issue_per_session = 100000
book_per_address = 100000
book_per_session = 100000
sign_in_per_address = 100000
"""
MODES = ("valid", "valid", "hostile", "hostile", "types", "types", "body", "dates")
HYPOTHESIS_EXAMPLES = 4000


# Refusals that are recorded by design, and exactly what each adds: a second rating of a case is
# refused and counted (一次一评: RatingRefused, evaluator/events.py), so that 电子监察 sees attempts
# after a case was rated. Nothing else may change on a refusal.
RECORDED_REFUSALS = {
    ("POST", "/api/v1/ratings", 409, "already_rated"): {"events": 1, "rating_refusals": 1},
}


def _code(reply) -> str | None:
    try:
        return reply.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


class FuzzHall:
    def __init__(self, daemon: Daemon):
        self.d = daemon
        self.app = daemon.app
        self.pools = Pools()
        self.principals: dict[str, list[tuple[bytes, bytes]]] = {}
        self.cookie_logins: dict[str, tuple] = {}
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.by_op: dict[str, dict[int, int]] = {}  # "METHOD path" → status → count
        self.ops: list[tuple[str, str, dict]] = []
        self.tables: list[str] = []
        self.state: tuple = ()

    @classmethod
    async def start(cls, tmp_path) -> FuzzHall:
        db = str(tmp_path / "fuzz.sqlite3")
        # Rating prompts time out on the loop's clock: at the most (255 s), well after the fuzz ends, so that
        # nothing but the requests changes the hall.
        text = hall_toml(db, extra=EXTRA, every_day=False).replace("rating_timeout_s = 30", "rating_timeout_s = 255")
        cfg = parse_config(text, source="fuzz")
        d = Daemon(cfg, clock=Clock(MONDAY_10AM), adapters=ADAPTERS)
        await d.start()
        h = cls(d)
        await h.setup(db)
        return h

    async def stop(self) -> None:
        await self.d.stop()

    async def setup(self, db: str) -> None:
        tok = {
            "kiosk": create_token(db, "kiosk"), "desk": create_token(db, "desk"),
            "clerk1": create_token(db, "clerk", "1", "1001"), "clerk3": create_token(db, "clerk", "3"),
            "integration": create_token(db, "integration"), "supervisor": create_token(db, "supervisor"),
            "admin": create_token(db, "admin"), "clerk2": create_token(db, "clerk", "2", "1002"),
        }
        self.principals["anonymous"] = []
        for role in ("kiosk", "desk", "clerk1", "clerk3", "integration", "supervisor", "admin"):
            self.principals[role] = [(b"authorization", f"Bearer {tok[role]}".encode())]
        self.principals["revoked"] = [(b"authorization", b"Bearer not-a-token")]
        form = b"application/x-www-form-urlencoded"
        self.cookie_logins = {
            "m-cookie": ("/m/demo-login", form, b"next=%2Fm"),
            "admin-cookie": ("/admin/login", form, f"token={tok['admin']}".encode()),
            "kiosk-cookie": ("/kiosk/login", form, f"token={tok['kiosk']}".encode()),
            "clerk-cookie": ("/clerk/login", b"application/json", json.dumps({"token": tok["clerk2"]}).encode()),
        }
        await self.login_cookies()
        doc = (await call(self.app, "GET", "/openapi.json")).json()
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                self.ops.append((method.upper(), path, op))
        rows = await self.d.runtime.journal.fetchall(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        self.tables = [r["name"] for r in rows]
        # A hall with something in it: tickets waiting, some served (cases to rate), a 差评 with its
        # follow-up, a booking.
        kiosk = self.principals["kiosk"]
        issued = []
        for business in "ABCABAB":
            r = await self.send("POST", "/api/v1/tickets", headers=kiosk, ctype=b"application/json",
                                body=json.dumps({"business": business}).encode())
            issued.append(r.json())
        clerk = self.principals["clerk1"]
        for action in ("call-next", "finish", "call-next", "finish", "call-next", "finish", "call-next"):
            assert (await self.send("POST", f"/api/v1/windows/1/{action}", headers=clerk)).status == 200
        first = issued[0]
        r = await self.send("POST", "/api/v1/ratings", ctype=b"application/json", body=json.dumps(
            {"ticket": first["id"], "key": first["rating_key"], "level": 1, "reasons": [1], "comment": "慢"}).encode())
        assert r.status == 201, r.body
        await self.send("POST", "/api/v1/appointments", headers=self.principals["m-cookie"] + [(b"origin", ORIGIN)],
                        ctype=b"application/json",
                        body=json.dumps({"business": "A", "day": "2026-11-17", "start": "09:00"}).encode())
        self.state = await fingerprint(self.d, self.tables)

    async def login_cookies(self) -> None:
        for name, (path, ctype, body) in self.cookie_logins.items():
            r = await call(self.app, "POST", path, headers=[(b"origin", ORIGIN), (b"content-type", ctype)], body=body)
            assert r.status in (200, 303), (name, r.status, r.body[:200])
            cookies = b"; ".join(c.split(b";", 1)[0] for c in r.cookies)
            assert cookies, name
            self.principals[name] = [(b"cookie", cookies)]

    # ---- one request ------------------------------------------------------------------------------

    async def send(self, method: str, path: str, query: bytes = b"", headers=(), body: bytes = b"",
                   ctype: bytes | None = None, client: str = "10.1.2.3", check: bool = True):
        hdrs = list(headers)
        if ctype is not None:
            hdrs.append((b"content-type", ctype))
        before = self.state
        r = await call(self.app, method, path, query, hdrs, body, client)
        self.sent += 1
        self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
        where = f"{method} {path}?{query[:120]!r} body={body[:160]!r} headers={[(k, v[:60]) for k, v in hdrs]}"
        assert r.status < 500 and not r.error, f"{where} → {r.status} {r.body[:300]!r}\n{r.error}"
        after = await fingerprint(self.d, self.tables) if check else before
        if check and 400 <= r.status < 500 and after != before:
            allowed = RECORDED_REFUSALS.get((method, path.split("?")[0], r.status, _code(r)))
            grew = {name: b - a for name, a, b in zip([*self.tables, "seq"], before[0], after[0], strict=True) if a != b}
            assert allowed is not None and grew == {**allowed, "seq": allowed["events"]} \
                and after[1:] == before[1:], f"{where} → {r.status} {r.body[:200]!r} changed the hall's state: {grew}"
        if 400 <= r.status < 500 and path.startswith("/api/"):
            err = r.json()["error"]
            assert err["code"] and err["message"], where
        if 200 <= r.status < 300 and r.headers.get(b"content-type", b"").startswith(b"application/json"):
            self.pools.learn(path, r.json())
        self.state = after
        if r.status in (200, 303) and (path.endswith("logout") or "sign" in path):
            await self.login_cookies()  # a session ended: sign in again, so later requests go deep
            self.state = await fingerprint(self.d, self.tables)
        return r

    def value(self, schema: dict, mode: str, r: random.Random):
        """A value for `schema`: valid (from the schema or the pools) or spoilt as `mode` says."""
        if mode == "hostile" and r.random() < 0.8:
            return r.choice(HOSTILE_TEXT)
        if mode == "types" and r.random() < 0.8:
            return hostile_value(r)
        if mode == "dates" and schema.get("format") == "date":
            return r.choice(HOSTILE_DAYS)
        if mode == "dates" and "pattern" in schema:
            return r.choice(HOSTILE_MONTHS)
        pooled = self.pools.pick(schema["x-pool"], r) if "x-pool" in schema else None
        if pooled is not None and r.random() < 0.85:
            return pooled
        if "enum" in schema:
            return r.choice(schema["enum"])
        kind = schema.get("type")
        if kind == "integer":
            return r.choice([1, 2, 3, 5, 0, schema.get("maximum", 7)])
        if kind == "boolean":
            return r.random() < 0.5
        if kind == "array":
            return [r.randint(1, 6) for _ in range(r.randint(0, 3))]
        if schema.get("format") == "date":
            return r.choice(["2026-11-16", "2026-11-17", "2026-11-01", "2026-11-30"])
        if schema.get("format") == "date-time":
            return "2026-11-16T10:00:00+08:00"
        if "pattern" in schema:
            return r.choice(["2026-11", "2026-10"])
        return r.choice(["x", "A", "1", "A001", "测试", "服务态度差", "done"])

    def request(self, method: str, path: str, op: dict, who: str, mode: str, r: random.Random):
        """A request for `op`: valid, or valid but for one spoilt element (a path or query parameter,
        a body field: so that it gets past the other checks), or with every date spoilt, or a
        garbage body."""
        params = op.get("parameters", [])
        content = op.get("requestBody", {}).get("content", {})
        form = "application/x-www-form-urlencoded" in content
        body_schema = (content.get("application/json") or content.get("application/x-www-form-urlencoded") or
                       {}).get("schema", {"properties": {}})
        props = list(body_schema["properties"].items())
        if len(props) > 5:  # a body shared by several actions takes only a few fields each
            props = r.sample(props, r.randint(0, 2))
        else:
            props = [kv for kv in props if r.random() < 0.85]
        if not op.get("x-fuzz-valid", True) and mode == "valid":
            mode = "hostile"
        slots = [("path", p["name"]) for p in params if p["in"] == "path"]
        slots += [("query", p["name"]) for p in params if p["in"] == "query"]
        slots += [("body", k) for k, _ in props]
        target = r.choice(slots) if slots and mode in ("hostile", "types") else None

        def val(where: str, name: str, schema: dict):
            spoil = mode == "dates" or (where, name) == target
            return self.value(schema, mode if spoil else "valid", r)

        holder = r.choice(self.pools.holders) if self.pools.holders and r.random() < 0.7 else None
        url = path
        for p in params:
            if p["in"] == "path" and p["name"] == "ticket_id" and holder and ("path", "ticket_id") != target:
                url = url.replace("{ticket_id}", holder[0])
            elif p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", encode_component(str(val("path", p["name"], p["schema"]))))
        query = [(p["name"], str(val("query", p["name"], p["schema"]))) for p in params
                 if p["in"] == "query" and (("query", p["name"]) == target or r.random() < 0.5)]
        if mode in ("hostile", "dates") and r.random() < 0.2:
            query.append((r.choice(["month", "from", "to", "day", "\ud800", "x"]), r.choice(HOSTILE_TEXT)))
        qs = "&".join(f"{encode_component(k)}={encode_component(v)}" for k, v in query).encode()
        headers = list(self.principals[who])
        if mode == "valid" or r.random() < 0.85:
            headers.append((b"origin", ORIGIN))
        else:
            headers.append((b"origin", r.choice([b"null", b"http://evil.example", b"http://hall:3000", *HEADER_JUNK])))
        if mode != "valid" and r.random() < 0.3:
            name = r.choice([b"x-junk", b"referer", b"accept-language", b"user-agent", b"x-forwarded-for",
                             b"accept", b"cookie"])
            headers.append((name, r.choice(HEADER_JUNK + [b"qm_session=\xff\xfe; queued_admin=%ED%A0%80"])))
        body, ctype = b"", None
        if method in ("POST", "DELETE", "PUT", "PATCH"):
            if mode == "body" or (not content and mode != "valid" and r.random() < 0.3):
                body, ctype = self.garbage_body(r)
            elif form:
                pairs = [(k, str(val("body", k, s))) for k, s in props]
                body = "&".join(f"{encode_component(k)}={encode_component(v)}" for k, v in pairs).encode()
                ctype = b"application/x-www-form-urlencoded"
            elif content:
                data = {k: val("body", k, s) for k, s in props}
                if holder:  # the holder's own ticket and key, so that ratings and cancels get past the proof
                    for k, v in (("ticket", holder[0]), ("key", holder[1])):
                        if k in data and ("body", k) != target:
                            data[k] = v
                if mode == "types" and r.random() < 0.2:
                    data[r.choice(["\ud800", "unknown", "__proto__"])] = hostile_value(r)
                body, ctype = dumps(data, r), b"application/json"
        return url, qs, headers, body, ctype

    def garbage_body(self, r: random.Random) -> tuple[bytes, bytes]:
        kind = r.randrange(9)
        ctype = r.choice(CONTENT_TYPES)
        if kind == 0:
            return b"[" * 20_000, r.choice([ctype, b"application/json"])  # past the parser's own stack
        if kind == 1:
            return dumps(deep(r.choice([17, 50, 900]), r.choice(["list", "dict"])), r), b"application/json"
        if kind == 2:
            return r.choice([b"null", b"[]", b"1", b'"x"', b"NaN", b"1e999999", b"-" * 10]), b"application/json"
        if kind == 3:
            return b'{"a": "\\ud800", "business": "\\udfff"}', b"application/json"
        if kind == 4:
            return b"\xff\xfe\x00\x01" * 10, ctype
        if kind == 5:
            return b'{"level": ' + str(r.choice(HOSTILE_NUMBERS[:7])).encode() + b"}", b"application/json"
        if kind == 6:
            return b"--xyz\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n\xed\xa0\x80\r\n--xyz--\r\n", \
                b"multipart/form-data; boundary=xyz"
        if kind == 7:
            return b"token=%ED%A0%80&next=%FF&business=%00&code=" + b"9" * 400, b"application/x-www-form-urlencoded"
        return b"x" * (70 * 1024), ctype  # over the body limit

    async def one(self, index: int, who: str, mode: str, r: random.Random) -> None:
        method, path, op = self.ops[index]
        if op.get("x-stream") and r.random() < 0.5:
            mode = "valid"
        url, qs, headers, body, ctype = self.request(method, path, op, who, mode, r)
        reply = await self.send(method, url, qs, headers, body, ctype, client=r.choice(["10.1.2.3", "10.9.9.9", "::1"]))
        seen = self.by_op.setdefault(f"{method} {path}", {})
        seen[reply.status] = seen.get(reply.status, 0) + 1


def _app_routes(app):
    from starlette.routing import Mount, Route

    for r in app.routes:
        if isinstance(r, Route):
            yield re.sub(r"\{(\w+):\w+\}", r"{\1}", r.path), set(r.methods or {"GET"}) - {"HEAD"}
        elif isinstance(r, Mount):
            yield r.path + "/{path}", {"GET"}


def test_every_route_refuses_hostile_input_with_a_4xx_that_changes_nothing(tmp_path, artifacts):
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    started = time.monotonic()
    hall = run(FuzzHall.start(tmp_path))
    try:
        routes = {(m, p) for m, p, _ in hall.ops}
        served = {(m, p) for p, methods in _app_routes(hall.app) for m in methods}
        assert routes == served  # the document names every route and method the app serves, no more
        assert ("POST", "/api/v1/ratings") in routes and ("GET", "/results") in routes
        assert len(routes) >= 60, len(routes)
        # The sweep: every operation as every principal, each kind of spoiling once.
        r = random.Random(10)
        for index in range(len(hall.ops)):
            for who in hall.principals:
                for mode in MODES:
                    run(hall.one(index, who, mode, r))
        swept = hall.sent

        @settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=(Phase.generate,))
        @given(st.integers(0, len(hall.ops) - 1), st.sampled_from(sorted(hall.principals)), st.sampled_from(MODES),
               st.integers(0, 2 ** 32 - 1))
        def explore(index, who, mode, seed):
            # The choices inside depend on what the hall holds by then (the pools grow): from a seed,
            # so that hypothesis's own draws stay the same shape from one example to the next.
            run(hall.one(index, who, mode, random.Random(seed)))

        explore()
    finally:
        run(hall.stop())
        loop.close()
    took = time.monotonic() - started
    summary = (f"fuzz over {len(routes)} operations: {hall.sent} requests ({swept} in the sweep) in {took:.1f} s; "
               f"statuses {dict(sorted(hall.statuses.items()))}")
    print(summary)
    per_op = "\n".join(f"{op}: {dict(sorted(st.items()))}" for op, st in sorted(hall.by_op.items()))
    (artifacts / "fuzz-routes.txt").write_text(summary + "\n\n" + per_op + "\n", encoding="utf-8")
    assert hall.statuses.get(201, 0) + hall.statuses.get(200, 0) > 300  # it went past the front door too
