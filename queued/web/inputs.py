"""Reading requests strictly: bad JSON, a missing field or a wrong type is a clear 4xx, never a 500."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from queued.auth import Principal
from queued.core.text import text_problem
from queued.web.errors import ApiError

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object"}
_TYPE_NAMES_ZH = {str: "文本", int: "整数", bool: "true 或 false", list: "列表", dict: "对象"}


def _json_media_type(request: Request) -> bool | None:
    """True for application/json (any parameters), False for another type, None when none came."""
    ctype = request.headers.get("content-type")
    if ctype is None:
        return None
    return ctype.split(";", 1)[0].strip().lower() == "application/json"


async def json_body(request: Request, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if "authorization" not in request.headers:
        # A page (cookie) or an anonymous caller: JSON only as application/json. A cross-site form
        # or no-cors fetch can send text/plain, form or multipart bodies without a CORS preflight,
        # never application/json (http-api.md 1.1, Auth). Bearer clients are judged by their token.
        typed = _json_media_type(request)
        if typed is False or (typed is None and raw.strip()):
            raise ApiError("unsupported_media_type", "请求体须为 JSON，Content-Type: application/json"
                                                     "（JSON bodies are accepted only as application/json）", 415)
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError("bad_json", "请求体为空，需要 JSON 对象（the body must be a JSON object）")
    if len(raw) > 64 * 1024:
        raise ApiError("bad_json", "请求体过大（body larger than 64 KiB）", 413)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("bad_json", f"请求体不是合法的 JSON（invalid JSON: {exc}）") from None
    except RecursionError:  # the parser's own stack: thousands of nested brackets
        raise ApiError("bad_json", f"JSON 嵌套过深（nested deeper than {MAX_DEPTH} levels）") from None
    if not isinstance(data, dict):
        raise ApiError("bad_json", "请求体必须是 JSON 对象（the body must be a JSON object）")
    check_json_text(data)
    return data


# No body of this API nests deeper than a few levels; deeper ones are refused before any route reads them.
MAX_DEPTH = 16


def check_json_text(data: Any) -> None:
    """Every string of a parsed body (keys too) must be storable text: no unpaired surrogate, no
    control character but tab and line breaks (422 `bad_request`); nesting is bounded (400)."""
    if data.__class__ is dict and _flat_printable(data):
        return  # the usual body: one level of printable text, decided by one C scan
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError("bad_json", f"JSON 嵌套过深（nested deeper than {MAX_DEPTH} levels）")
        if isinstance(value, str):
            _check_text(value, "字段值（a value）")
        elif isinstance(value, dict):
            for k, v in value.items():
                _check_text(k, "字段名（a field name）")
                if not isinstance(v, str | int | float | bool) and v is not None:
                    stack.append((v, depth + 1))
                elif isinstance(v, str):
                    _check_text(v, f"字段 {k}（field {k!r}）")
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _flat_printable(data: dict) -> bool:
    texts = []
    for k, v in data.items():
        texts.append(k)
        if v.__class__ is str:
            texts.append(v)
        elif v is not None and v.__class__ not in (int, float, bool):
            return False
    return "".join(texts).isprintable()


def _check_text(value: str, where: str) -> None:
    problem = text_problem(value, free=True)
    if problem is not None:
        raise ApiError("bad_request", f"{where} 含有无法保存的字符（{problem}）")


async def form_body(request: Request) -> dict[str, str]:
    """A submitted form's text fields, held to the same text rule as JSON bodies."""
    try:
        form = await request.form()
    except Exception as exc:  # python-multipart's own errors for broken bodies
        raise ApiError("bad_request", f"表单无法解析（the form cannot be parsed: {type(exc).__name__}）") from None
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise ApiError("bad_request", "不接受上传文件（no file uploads here）")
        _check_text(key, "表单字段名（a form field name）")
        _check_text(value, f"表单字段 {key}（form field {key!r}）")
        out.setdefault(key, value)
    return out


# Identifiers from outside (WeChat openids are 28 characters) never need more than this.
ID_MAX = 64


def field(data: dict[str, Any], name: str, typ: type, default: Any = ..., choices: tuple | None = None,
          max_len: int | None = None) -> Any:
    """One field of a body: present (unless a default is given), of the right type, in `choices`,
    and (strings) no longer than `max_len`."""
    if name not in data or data[name] is None:
        if default is ...:
            raise ApiError("invalid_request", f"缺少字段 {name}（missing field {name!r}）")
        return default
    value = data[name]
    wrong = not isinstance(value, typ) or (typ is int and isinstance(value, bool))
    if wrong:
        raise ApiError("invalid_request", f"字段 {name} 应为{_TYPE_NAMES_ZH.get(typ, typ.__name__)}"
                                          f"（field {name!r} must be {_TYPE_NAMES.get(typ, typ.__name__)}）")
    if max_len is not None and isinstance(value, str) and len(value) > max_len:
        raise ApiError("invalid_request", f"字段 {name} 过长，最多 {max_len} 个字符（field {name!r} longer than {max_len}）")
    if choices is not None and value not in choices:
        raise ApiError("invalid_request", f"字段 {name} 只能是 {', '.join(map(str, choices))}"
                                          f"（field {name!r} must be one of {list(choices)}）")
    return value


def no_unknown(data: dict[str, Any], *allowed: str) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise ApiError("invalid_request", f"未知字段 {', '.join(extra)}（unknown field(s): {', '.join(extra)}）")


async def principal(request: Request) -> Principal | None:
    """The bearer token's principal, or None when no token came. A bad token is a 401."""
    header = request.headers.get("authorization")
    if not header:
        # Pages sign people in with cookies; each adapter that does appends a resolver
        # `async fn(request) -> Principal | None` to app.state.session_resolvers. Bearer comes first.
        for resolve in request.app.state.session_resolvers:
            p = await resolve(request)
            if p is not None:
                return p
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthorized", "Authorization 需为 Bearer 令牌（expected 'Authorization: Bearer TOKEN'）")
    p = await request.app.state.tokens.principal(token.strip())
    if p is None:
        raise ApiError("unauthorized", "令牌无效或已吊销（unknown or revoked token）")
    return p


async def require(request: Request, right: str) -> Principal:
    p = await principal(request)
    if p is None:
        raise ApiError("unauthorized", "需要登录令牌（missing 'Authorization: Bearer TOKEN'）")
    if not p.can(right):
        raise ApiError("forbidden", f"角色 {p.role} 无此权限（role {p.role!r} may not do this）")
    return p
