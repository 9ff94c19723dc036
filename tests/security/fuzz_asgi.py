"""The fuzz test's parts: a raw ASGI client (any bytes in headers, cookies and bodies, as uvicorn
would hand them to the app; event streams cut after their first reply), the hall's fingerprint
(every table's row count, the journal's last event, the engine's windows), and hostile values."""

from __future__ import annotations

import asyncio
import json
import random
import traceback
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

ORIGIN = b"http://hall"


@dataclass
class Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    error: str = ""  # the traceback of an exception the app let out
    cookies: list[bytes] = field(default_factory=list)  # Set-Cookie values

    def json(self):
        return json.loads(self.body)


def encode_component(value: str) -> str:
    """A path or query component as a client would send it: UTF-8 (surrogates as their bytes), escaped."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


async def call(app, method: str, path: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] = (),
               body: bytes = b"", client: str = "10.1.2.3", timeout: float = 10.0) -> Reply:
    """One request straight into the ASGI app. `path` is the raw (escaped) path; the decoded one is
    made as uvicorn makes it. A text/event-stream reply is cut after its start (the client goes)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": unquote(path), "raw_path": path.encode("ascii"),
        "query_string": query, "root_path": "", "client": (client, 40000), "server": ("hall", 80),
        "headers": [(b"host", b"hall"), *headers, (b"content-length", str(len(body)).encode())]
        if body or method in ("POST", "PUT", "PATCH", "DELETE") else [(b"host", b"hall"), *headers],
    }
    gone = asyncio.Event()
    sent_body = False
    reply = Reply(0, {}, b"")
    started = asyncio.Event()

    async def receive():
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = {k.lower(): v for k, v in message.get("headers", ())}
            reply.cookies = [v for k, v in message.get("headers", ()) if k.lower() == b"set-cookie"]
            started.set()
            if reply.headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                gone.set()  # a stream: what matters is its status; the client leaves
        elif message["type"] == "http.response.body":
            reply.body += message.get("body", b"")
            if reply.headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                gone.set()  # a stream: what matters is its status; the client leaves

    task = asyncio.ensure_future(app(scope, receive, send))
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
    except TimeoutError:
        task.cancel()
        raise AssertionError(f"{method} {path}?{query[:80]!r} did not answer within {timeout} s") from None
    except Exception:
        reply.error = traceback.format_exc()
        if reply.status == 0:
            reply.status = 500
    finally:
        gone.set()
        if not task.done():
            try:
                await asyncio.wait_for(task, 2)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                pass
    return reply


async def fingerprint(daemon, tables: list[str]) -> tuple:
    """What a refused request must not change: every table's row count and the journal's last event
    (after everything decided so far is committed), and the engine's windows and tickets."""
    j = daemon.runtime.journal
    await j.append([])
    counts = await j.fetchone("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM \"{t}\")" for t in tables)
                              + ", (SELECT COALESCE(MAX(seq), 0) FROM events)")
    eng = daemon.runtime.engine
    windows = tuple((w.id, w.state, w.clerk, w.current.id if w.current else None, len(w.parked))
                    for w in eng.windows.values())
    tickets = tuple(sorted((t.id, t.status) for t in eng.tickets.values()))
    return tuple(counts), windows, hash(tickets)


# ---- hostile values ----------------------------------------------------------------------------

HOSTILE_TEXT = [
    "\ud800", "a\udfffb", "\x00", "x\x00y", "\x1b[31m", "\u202e", "\ufffe", "\U0010ffff", "=HYPERLINK(\"http://x\")",
    "' OR 1=1 --", "../../etc/passwd", "%00", "中" * 300, "", " ", "A" * 5000, "9999-12-31", "0000-01-01",
    "2026-02-30", "9999-12", "0000-00", "2026-13", "-0001-01-01", "1e309", "NaN", "-1", "99999999999999999999",
    "25:99", "\r\nSet-Cookie: x=1", "<script>alert(1)</script>", "A001", "ZZ999", "1001", "null",
]
HOSTILE_NUMBERS = [10 ** 30, -10 ** 30, -1, 0, 2 ** 32, 2 ** 63, 2 ** 64 + 1, 1e308, -0.0, 0.5,
                   float("nan"), float("inf"), float("-inf")]
HOSTILE_DAYS = ["9999-12-31", "0001-01-01", "0000-01-01", "2026-02-30", "2026-13-01", "99999-01-01", "2026-1-1",
                "today", "", "\ud800", "2026-11-16T10:00:00", "2026-11-16\x00"]
HOSTILE_MONTHS = ["9999-12", "0000-01", "0001-01", "2026-13", "2026-00", "10000-01", "-2026-01", "2026", "\ud800"]
CONTENT_TYPES = [b"application/json", b"application/json; charset=utf-8", b"text/plain", b"",
                 b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=xyz",
                 b"multipart/form-data", b"application/json; charset=utf-16", b"\xff\xfe", b"application/xml"]
HEADER_JUNK = [b"\xff\xfe\xfd", b"\x80" * 300, b"a" * 8000, b"\x01\x02", b"=cmd|' /C calc'!A0", b"\"\\\""]


def deep(n: int, kind: str = "list"):
    out: object = 1
    for _ in range(n):
        out = [out] if kind == "list" else {"a": out}
    return out


def hostile_value(r: random.Random):
    pick = r.random()
    if pick < 0.45:
        return r.choice(HOSTILE_TEXT)
    if pick < 0.7:
        return r.choice(HOSTILE_NUMBERS)
    if pick < 0.85:
        return r.choice([None, True, False, [], {}, [1, 2], {"$gt": ""}, ["\ud800"], {"\ud800": 1}])
    return deep(r.choice([3, 20, 200]), r.choice(["list", "dict"]))


def dumps(value, r: random.Random) -> bytes:
    """JSON as clients send it: escaped ASCII, or raw UTF-8 (surrogates as their invalid bytes), with
    the non-standard NaN/Infinity that Python's parser takes."""
    if r.random() < 0.6:
        return json.dumps(value, ensure_ascii=True).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@dataclass
class Pools:
    """Values seen in earlier replies, so requests reach past the look-ups (real ids, keys, cases)."""

    values: dict[str, list] = field(default_factory=lambda: {
        "business": ["A", "B", "C", "Z"], "window": ["1", "2", "3", "9"], "ticket": [], "rating_key": [],
        "number": ["A001", "ZZ999"], "case": [1], "booking": []})
    holders: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, value) -> None:
        pool = self.values[kind]
        if value not in pool:
            pool.append(value)
            if len(pool) > 60:
                del pool[4]

    def learn(self, path: str, data) -> None:
        if isinstance(data, dict) and isinstance(data.get("id"), str) and isinstance(data.get("rating_key"), str):
            self.holders.append((data["id"], data["rating_key"]))  # a ticket and its holder's key
            del self.holders[:-40]
        stack = [data]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "rating_key" and isinstance(x, str):
                        self.add("rating_key", x)
                    elif k == "number" and isinstance(x, str):
                        self.add("number", x)
                    elif k == "case" and isinstance(x, int) and not isinstance(x, bool):
                        self.add("case", x)
                    elif k in ("ticket_id", "ticket") and isinstance(x, str):
                        self.add("ticket", x)
                    elif k == "id" and isinstance(x, str):
                        self.add("booking" if "/appointments" in path else "ticket", x)
                    elif isinstance(x, dict | list):
                        stack.append(x)
            elif isinstance(v, list):
                stack.extend(v[:20])

    def pick(self, kind: str, r: random.Random):
        pool = self.values.get(kind) or []
        return r.choice(pool) if pool else None
