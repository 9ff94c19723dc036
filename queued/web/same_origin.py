"""Cross-site request refusal (http-api.md 1.1, Auth), decided here for every route at once.

A browser sends our cookies with any request to our host, whichever page made it: a page on
another site, or Grafana on :3000 of the same host (same site, so even SameSite=Strict cookies go
along). So a request that changes state and does not carry its own credentials (a Bearer token)
must show where it came from:

- GET, HEAD and OPTIONS pass (they change nothing; pages that sign in by GET are noted in
  docs/security.md);
- a request with an `Authorization` header passes: the token alone is judged (inputs.principal);
- otherwise an `Origin` header must name this daemon's own origin (the request's scheme and Host,
  or `[daemon] public_url` when a proxy sits in front); without `Origin`, the `Referer`'s origin
  must; `Origin: null` (sandboxed frames, no-referrer pages) never does;
- with neither header, a request that carries a cookie, or goes to a sign-in form (login CSRF:
  signing the hall's browser in under the attacker's token), is refused; an anonymous one without
  cookies passes, since nothing ambient vouches for it (it is judged like any anonymous call).

Refusals are 403 `forbidden`: JSON, or a short page in Chinese when a browser navigated here.
The rule for JSON bodies (only as `application/json`) is in `inputs.json_body`.
A Bearer request costs nothing but the edge's one scan of its headers. The central service uses it
too, with its own sign-in form and wording (central/web.py).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The forms that sign someone in: protected even when no cookie has been set yet.
SIGN_IN_PATHS = frozenset({"/admin/login", "/clerk/login", "/kiosk/login", "/m/demo-login"})
DEFAULT_PORTS = {"http": "80", "https": "443"}

MESSAGE = "请求来源不明，已拒绝（cross-site request refused: Origin/Referer is not this hall's own page）"
PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>请求已拒绝</title>
<style>body{font-family:"WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:0;padding:0 16px;background:#f4f6f8;color:#222}
main{max-width:560px;margin:12vh auto;padding:28px 32px;background:#fff;border-radius:10px;box-shadow:0 2px 8px #0002}
h1{font-size:1.5rem;margin:0 0 12px;color:#b3261e}p{line-height:1.7;margin:8px 0}</style></head>
<body><main><h1>请求来源不明，已拒绝</h1>
<p>这个操作不是从%SYSTEM%自己的页面发出的（可能来自其他网站或同一台服务器上的其他服务），为了安全已被拒绝，没有做任何更改。</p>
<p>如需办理，请直接打开本系统的页面后重新操作。</p></main></body></html>
"""


def normalise_origin(value: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None if it is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and str(port) != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


class SameOrigin:
    """The rule, judged by `queued.web.edge.Edge` from facts it gathers in its one scan of the
    headers. `sign_in_paths`: forms protected even without a cookie; `system`: what the refusal
    page calls the system ("本大厅系统"); `message`: the JSON refusal's text."""

    def __init__(self, public_url: str = "", sign_in_paths=SIGN_IN_PATHS, system: str = "本大厅系统",
                 message: str = MESSAGE):
        self.public_origin = normalise_origin(public_url) if public_url else None
        self.sign_in_paths = frozenset(sign_in_paths)
        self.page = PAGE.replace("%SYSTEM%", system).encode()
        self.message = message
        self._seen: dict[tuple, bool] = {}  # (scheme, Host, Origin) → own? (a hall has a handful)

    def allows(self, scope, origin: bytes | None, referer: bytes | None, host: bytes | None, cookie: bool) -> bool:
        """For a state-changing request without an Authorization header."""
        claimed = origin if origin is not None else referer
        if claimed is None:
            return not cookie and scope["path"] not in self.sign_in_paths
        key = (scope.get("scheme"), host, claimed)
        own = self._seen.get(key)
        if own is None:
            own = self._own(scope, host, claimed.decode("latin-1"))
            if len(self._seen) >= 1024:  # made-up Origins must not grow it without bound
                self._seen.clear()
            self._seen[key] = own
        return own

    def _own(self, scope, host: bytes | None, claimed: str) -> bool:
        seen = normalise_origin(claimed)
        if seen is None:  # "null", garbage
            return False
        if seen == self.public_origin:
            return True
        if host is None:
            return False
        own = normalise_origin(f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}")
        return own is not None and seen == own

    async def refuse(self, scope, send) -> None:
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        if b"text/html" in accept:
            body, ctype = self.page, b"text/html; charset=utf-8"
        else:
            body = json.dumps({"error": {"code": "forbidden", "message": self.message}}, ensure_ascii=False).encode()
            ctype = b"application/json"
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})
