"""The only place errors become HTTP: `{"error": {"code", "message"}}` with a fitting status."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from queued.core.errors import CoreError
from queued.errors import JournalError

log = logging.getLogger("queued.web")

STATUS = {
    "unknown_business": 404,
    "unknown_window": 404,
    "unknown_ticket": 404,
    "unknown_clerk": 404,
    "not_found": 404,
    "already_waiting": 409,
    "quota_exhausted": 409,
    "closed": 409,
    "invalid_state": 409,
    "recall_limit": 409,
    "already_rated": 409,
    "not_served": 409,
    "not_this_window": 409,
    "rating_closed": 409,
    "slot_full": 409,
    "conflict": 409,
    "duplicate_case": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "not_holder": 403,
    "bad_json": 400,
    "unsupported_media_type": 415,
    "invalid_request": 422,
    "bad_request": 422,  # text that cannot be stored (http-api.md 1.1, Auth)
    "rate_limited": 429,
    "too_many_streams": 429,
    "too_large": 413,
    "unavailable": 503,
}


class ApiError(Exception):
    """An error the web layer itself finds (auth, bad input)."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS.get(code, 400)


def error_response(code: str, message: str, status: int, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else getattr(exc, "headers", None)
    return error_response(exc.code, exc.message, exc.status, headers)


async def core_error(request: Request, exc: CoreError) -> JSONResponse:
    return error_response(exc.code, exc.message, STATUS.get(exc.code, 422))


async def journal_error(request: Request, exc: JournalError) -> JSONResponse:
    log.error("refused a request: %s", exc)
    return error_response("unavailable", "服务暂不可用，请稍后再试（the journal cannot be written）", 503)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(code, exc.detail or "", exc.status_code)


async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client went (or was dropped for being too slow) while its body was read: nobody to answer."""
    return Response(status_code=400)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    # Not logged here: Starlette re-raises it after this reply, and the server's outermost layer
    # (queued/web/server.py, LoggedErrors) logs it once.
    return error_response("internal_error", "内部错误，已记录（internal error, logged）", 500)


HANDLERS = {
    ApiError: api_error,
    CoreError: core_error,
    JournalError: journal_error,
    HTTPException: http_error,
    ClientDisconnect: client_gone,
    Exception: server_error,
}
