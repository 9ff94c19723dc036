"""The edge: the rules every request meets before any route runs, in one ASGI layer.

- **Body size** (`limits`): a declared length over the limit is refused 413 before the body is
  read; a body of unknown length is counted as it arrives.
- **Text** outside a body, the path, the query and the cookies: text the hall cannot store, or
  that no browser or kiosk sends (control characters, an unpaired surrogate), is refused with 422
  `bad_request` (http-api.md 1.1, Auth). Bodies are checked where they are parsed
  (`inputs.json_body`, `inputs.form_body`); commands once more by the runtime
  (`queued.core.text.check_command`).
- **Cross-site** (`same_origin`): a state change that carries no token of its own must come from
  the hall's own pages.

One layer, not one per rule, because each pure-ASGI layer is a coroutine frame that every resume
of the request (after its commit, after each read) passes through, and each scanned the headers
again: the durable issue path paid ~8 µs a request for the three layers; one scan and one frame
cost a fraction of that (bench/RESULTS.md).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from queued.core.text import text_problem
from queued.web.errors import error_response
from queued.web.limits import MAX_BODY, TOO_LARGE, counting, refuse_declared
from queued.web.same_origin import SAFE_METHODS, SameOrigin


def request_problem(scope: Scope, cookies: list[bytes] | None = None) -> str | None:
    """What is wrong with the request's path, query or cookies, or None. `cookies`: the Cookie
    header values when the caller has them already (else they are looked up)."""
    problem = text_problem(scope.get("path", ""))  # printable: one C scan
    if problem:
        return f"路径含有非法字符（the path holds {problem}）"
    query = scope.get("query_string", b"")
    if query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            problem = text_problem(key) or text_problem(value)
            if problem:
                return f"查询参数 {key[:20]!r} 含有非法字符（the query parameter holds {problem}）"
    if cookies is None:
        cookies = [v for k, v in scope.get("headers", ()) if k == b"cookie"]
    for raw in cookies:
        for key, value in cookie_parser(raw.decode("latin-1")).items():
            problem = text_problem(key, header=True) or text_problem(value, header=True)
            if problem:
                return f"Cookie 含有非法字符（a cookie holds {problem}）"
    return None


class Edge:
    """`same_origin`: the cross-site rule (None: none); `limit`/`too_large`: the body limit and the
    413's wording."""

    def __init__(self, app: ASGIApp, same_origin: SameOrigin | None = None, limit: int = MAX_BODY,
                 too_large: str = TOO_LARGE):
        self.app = app
        self.same_origin = same_origin
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = origin = referer = host = None
        cookies: list[bytes] = []
        authorization = False
        for name, value in scope["headers"]:  # names arrive lower-cased (ASGI)
            if name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = True
            elif name == b"cookie":
                cookies.append(value)
            elif name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"referer":
                referer = value
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = None  # the HTTP parser has refused it already
            if declared is not None and declared > self.limit:
                return await refuse_declared(send, self.too_large)
            if declared is None:
                receive, send = counting(receive, send, self.limit, self.too_large)
        elif scope["method"] not in SAFE_METHODS:  # chunked, or no body at all: counted as it comes
            receive, send = counting(receive, send, self.limit, self.too_large)
        rule = self.same_origin
        if (rule is not None and not authorization and scope["method"] not in SAFE_METHODS
                and not rule.allows(scope, origin, referer, host, bool(cookies))):
            return await rule.refuse(scope, send)
        problem = request_problem(scope, cookies)
        if problem is not None:
            return await error_response("bad_request", problem, 422)(scope, receive, send)
        await self.app(scope, receive, send)
