"""The edge's text rule for what arrives outside a body: the path, the query and the cookies.

Text the hall cannot store, or that no browser or kiosk sends (control characters, an unpaired
surrogate), is refused here with 422 `bad_request` (http-api.md 1.1, Auth) before any route runs,
for every route at once. Bodies are checked where they are parsed (`inputs.json_body`,
`inputs.form_body`); commands once more by the runtime (`queued.core.text.check_command`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from queued.core.text import text_problem
from queued.web.errors import error_response


def request_problem(scope: Scope) -> str | None:
    """What is wrong with the request's path, query or cookies, or None."""
    problem = text_problem(scope.get("path", ""))
    if problem:
        return f"路径含有非法字符（the path holds {problem}）"
    query = scope.get("query_string", b"")
    if query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            problem = text_problem(key) or text_problem(value)
            if problem:
                return f"查询参数 {key[:20]!r} 含有非法字符（the query parameter holds {problem}）"
    for name, raw in scope.get("headers", ()):
        if name == b"cookie":
            for key, value in cookie_parser(raw.decode("latin-1")).items():
                problem = text_problem(key, header=True) or text_problem(value, header=True)
                if problem:
                    return f"Cookie 含有非法字符（a cookie holds {problem}）"
    return None


class EdgeTextMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = request_problem(scope)
            if problem is not None:
                await error_response("bad_request", problem, 422)(scope, receive, send)
                return
        await self.app(scope, receive, send)
