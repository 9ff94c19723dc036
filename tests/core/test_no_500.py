"""Bad input never gives a 500: every route of the full daemon (all adapters), hit with garbage
paths, bodies and methods, with and without an admin token. API errors keep the error shape."""

from __future__ import annotations

import itertools

import httpx
from starlette.routing import Mount, Route

from queued.daemon import ADAPTERS
from tests.support import token

PARAMS = ["x", "1", "0", "-1", "A001", "99999999999999999999", "%00", "..%2F..%2Fetc", "a" * 300, "%E4%B8%AD"]
BODIES = [None, b"", b"garbage", b"{", b"[]", b"{}", b"null", b'{"business": ["A"]}', b'{"level": "5"}',
          b'{"ticket": 1, "level": 9}', b'{"number": {}}', b'{"day": "2026-13-45", "start": "25:99"}',
          b'{"ticket": "x", "level": 99999999999999999999999, "reasons": [99999999999999999999]}',
          b'{"business": "A", "day": "2026-11-16", "start": "11:00", "openid": "' + b"o" * 5000 + b'"}',
          b"\xff\xfe\x00", b'{"a": ' + b"[" * 200 + b"]" * 200 + b"}"]


def _paths(app) -> list[tuple[str, set[str]]]:
    out = []
    for r in app.routes:
        if isinstance(r, Route):
            out.append((r.path, set(r.methods or {"GET"})))
        elif isinstance(r, Mount):
            out.append((r.path + "/{p}", {"GET"}))
    return out


def _fill(path: str, value: str) -> str:
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + value + path[end + 1:]
    return path


async def test_no_route_answers_500_to_garbage(make_daemon):
    d = await make_daemon(adapters=ADAPTERS)
    admin = {"Authorization": f"Bearer {token(d.config.database, 'admin')}"}
    seen = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app, raise_app_exceptions=False),
                                 base_url="http://hall") as c:
        for path, methods in _paths(d.app):
            if path.startswith("/events"):
                continue  # server-sent event streams never end by themselves
            params = PARAMS if "{" in path else [""]
            for value, method, headers in itertools.product(params, sorted(methods - {"HEAD"}), (None, admin)):
                bodies = BODIES if method in ("POST", "PUT", "DELETE", "PATCH") else [None]
                for body in bodies:
                    url = _fill(path, value)
                    r = await c.request(method, url, content=body, headers=headers,
                                        params={"from": "x", "to": "2026-02-30", "group_by": "y", "format": "z"})
                    seen += 1
                    assert r.status_code < 500, f"{method} {url} {body!r:.60} → {r.status_code} {r.text[:200]}"
                    if url.startswith("/api/") and r.status_code >= 400:
                        err = r.json()["error"]
                        assert err["code"] and err["message"], (method, url)
    assert seen > 500
    assert (await d.app.state.runtime.journal.fetchone("SELECT COUNT(*) AS n FROM events"))["n"] < 50
