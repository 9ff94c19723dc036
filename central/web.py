"""The central service's HTTP API. The only module (with central/pages.py) that speaks HTTP; errors
are raised as CentralError and rendered here as `{"error": {"code", "message"}}`.

Stateless: everything lives in PostgreSQL (tokens, the session secret, the events), so any number
of instances may serve behind a load balancer.

Every hall of the city reaches it, so it takes the hall daemon's own edge (queued/web/edge.py): the
body limit counted while the body is read (413), the text rule for paths, queries and cookies, the
cross-site refusal of cookie-borne state changes (for /city's sign-in and sign-out), and in central/service.py
the socket bound first, the per-request read deadline (408) and errors logged once with a count.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from central import ingest, ranking, reports
from central.errors import BadRequest, CentralError, Forbidden, TooLarge, Unauthorized
from central.tokens import Principal
from evaluator import export
from queued.web.edge import Edge
from queued.web.limits import BodyTooLarge
from queued.web.same_origin import SameOrigin

MAX_BODY = 16 * 1024 * 1024  # on the wire, compressed or not (every route: the largest is an ingest batch)
MAX_INFLATED = 64 * 1024 * 1024
TOO_LARGE = f"请求体过大（body larger than {MAX_BODY // 1024 // 1024} MiB）"
SIGN_IN_PATHS = {"/city/login"}
CROSS_SITE = "请求来源不明，已拒绝（cross-site request refused: Origin/Referer is not this service's own page）"
FORMATS = ("json", "csv", "xlsx")


async def principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization 需为 Bearer 令牌（expected 'Authorization: Bearer TOKEN'）")
        p = await request.app.state.tokens.principal(token.strip())
        if p is None:
            raise Unauthorized("令牌无效或已吊销（unknown or revoked token）")
        return p
    session = getattr(request.app.state, "session", None)
    return await session(request) if session is not None else None


async def require(request: Request, role: str) -> Principal:
    p = await principal(request)
    if p is None:
        raise Unauthorized("需要登录令牌（missing 'Authorization: Bearer TOKEN'）")
    if p.role != role:
        raise Forbidden(f"角色 {p.role} 无此权限（role {p.role!r} may not do this）")
    return p


async def read_body(request: Request) -> bytes:
    """The body (the edge has counted it on the wire), inflated when it came gzip'd (bounded too)."""
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = d.decompress(raw, MAX_INFLATED)
        except zlib.error as exc:
            raise BadRequest(f"gzip 数据损坏（bad gzip body: {exc}）") from None
        if d.unconsumed_tail:
            raise TooLarge("解压后过大（body inflates beyond 64 MiB）")
    elif encoding != "identity":
        raise BadRequest(f"不支持的 Content-Encoding {encoding!r}（use gzip or none）")
    return raw


async def post_ingest(request: Request) -> JSONResponse:
    p = await require(request, "hall")
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise BadRequest("Content-Type 须为 application/json")
    batch = ingest.parse_batch(await read_body(request))
    st = request.app.state
    result = await ingest.store(st.pool, st.partitions, p.hall, batch, st.stats)
    return JSONResponse(result)


async def get_halls(request: Request) -> JSONResponse:
    await require(request, "supervisor")
    return JSONResponse({"halls": await halls_json(request.app.state.pool), "now": iso(time.time())})


async def halls_json(pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT id, name, last_seq, last_event_at, last_shipped_at, head_seq, events FROM halls ORDER BY id")
    now = time.time()
    out = []
    for r in rows:
        shipped = r["last_shipped_at"].timestamp() if r["last_shipped_at"] else None
        out.append({
            "id": r["id"], "name": r["name"] or r["id"], "last_seq": r["last_seq"],
            "last_event_at": iso(r["last_event_at"]), "last_shipped_at": iso(shipped),
            "seconds_since_shipped": None if shipped is None else round(now - shipped, 1),
            "events": r["events"], "head_seq": r["head_seq"],
            "events_behind": max(0, r["head_seq"] - r["last_seq"])})
    return out


_TZ: list = []  # the city's time zone, set by create_app


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    import datetime as dt
    from zoneinfo import ZoneInfo
    tz = _TZ[0] if _TZ else ZoneInfo("Asia/Shanghai")
    return dt.datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def _params(request: Request, allowed: set[str], today: str, group: bool = True) -> dict[str, Any]:
    q = request.query_params
    extra = sorted(set(q) - allowed)
    if extra:
        raise BadRequest(f"未知参数 {', '.join(extra)}（unknown parameter(s) {', '.join(extra)}）")
    fmt = q.get("format") or "json"
    if fmt not in FORMATS:
        raise BadRequest("format 只能是 json、csv、xlsx（format must be json, csv or xlsx）")
    try:
        start, end = reports.parse_range(q.get("from"), q.get("to"), today)
        group_by = reports.check_group(q.get("group_by")) if group else ""
    except reports.ReportError as exc:
        raise BadRequest(str(exc)) from None
    out = {"from": start, "to": end, "group_by": group_by, "format": fmt, "hall": None, "dept": None}
    for name in ("hall", "dept"):
        out[name] = _id_param(q, name)
    return out


def _id_param(q, name: str) -> str | None:
    value = q.get(name)
    if value is not None and (not value or len(value) > 64 or not value.isprintable()):
        raise BadRequest(f"{name} 须为编号（{name} must be an id of at most 64 printable characters）")
    return value


def today(request: Request) -> str:
    import datetime as dt
    from zoneinfo import ZoneInfo
    return dt.datetime.now(ZoneInfo(request.app.state.config.timezone)).date().isoformat()


def respond(name: str, p: dict, rows: list[dict], fields, labels, title: str, extra: dict | None = None) -> Response:
    if p["format"] == "json":
        body = {"from": p["from"], "to": p["to"], **({"group_by": p["group_by"]} if p["group_by"] else {}),
                **({"hall": p["hall"]} if p.get("hall") else {}), **(extra or {}), "rows": rows}
        return JSONResponse(body)
    flat = [{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v) for k, v in r.items()}
            for r in rows]
    fname = export.filename(name, p["from"], p["to"], p["group_by"] or "all", p["format"])
    disposition = {"Content-Disposition": f'attachment; filename="{fname}"'}
    if p["format"] == "csv":
        return Response(export.to_csv(flat, fields, labels), media_type=export.CSV_TYPE, headers=disposition)
    return Response(export.to_xlsx(flat, fields, labels, title), media_type=export.XLSX_TYPE, headers=disposition)


REPORT_PARAMS = {"from", "to", "group_by", "format", "hall", "dept"}


async def report_reviews(request: Request) -> Response:
    await require(request, "supervisor")
    p = _params(request, REPORT_PARAMS, today(request))
    rows, fields, labels = await reports.reviews(request.app.state.pool, p["from"], p["to"], p["group_by"],
                                                 p["hall"], p["dept"])
    return respond("city_reviews", p, rows, fields, labels, f"好差评 {p['from']}~{p['to']}")


async def report_queues(request: Request) -> Response:
    await require(request, "supervisor")
    p = _params(request, REPORT_PARAMS, today(request))
    rows = await reports.queues(request.app.state.pool, p["from"], p["to"], p["group_by"], p["hall"], p["dept"])
    fields = reports.CITY_QUEUE_FIELDS if p["group_by"] in ("window", "hall") else reports.CITY_QUEUE_FIELDS[:-2]
    return respond("city_queues", p, rows, fields, reports.CITY_LABELS, f"排队 {p['from']}~{p['to']}")


def _month(request: Request) -> str:
    import re
    month = request.query_params.get("month") or today(request)[:7]
    if not re.fullmatch(r"(20\d\d)-(0[1-9]|1[0-2])", month):
        raise BadRequest("month 须为 YYYY-MM（month must be YYYY-MM）")
    return month


RANKING_FIELDS = ("month", "rank", "key", "hall", "name", "rated", "good", "bad", "good_rate", "bad_rate", "last",
                  "called_in")
RANKING_LABELS = {"month": "月份", "rank": "名次", "key": "编号", "hall": "大厅编号", "name": "名称", "rated": "评价数",
                  "good": "好评", "bad": "差评", "good_rate": "好评率", "bad_rate": "差评率", "last": "本月末位",
                  "called_in": "连续两月末位"}


async def report_ranking(request: Request) -> Response:
    await require(request, "supervisor")
    q = request.query_params
    extra = sorted(set(q) - {"month", "by", "months", "format"})
    if extra:
        raise BadRequest(f"未知参数 {', '.join(extra)}（unknown parameter(s) {', '.join(extra)}）")
    by = q.get("by") or "hall"
    if by not in ("hall", "window"):
        raise BadRequest("by 只能是 hall 或 window（by must be hall or window）")
    months = q.get("months") or "2"
    if not months.isdigit() or not 2 <= int(months) <= 12:
        raise BadRequest("months 须为 2..12")
    fmt = q.get("format") or "json"
    if fmt not in FORMATS:
        raise BadRequest("format 只能是 json、csv、xlsx（format must be json, csv or xlsx）")
    month = _month(request)
    result = await ranking.monthly(request.app.state.pool, month, by, int(months))
    if fmt == "json":
        return JSONResponse({"month": month, "by": by, "months": result})
    rows = [{"month": m["month"], **r} for m in result for r in m["rows"]]
    first, _ = ranking.month_bounds(result[-1]["month"])
    _, last = ranking.month_bounds(month)
    p = {"format": fmt, "from": first.isoformat(), "to": last.isoformat(), "group_by": by}
    return respond("city_ranking", p, rows, RANKING_FIELDS, RANKING_LABELS, f"排名 {month}")


FOLLOWUP_FIELDS = ("hall", "hall_name", "case", "day", "business", "window", "window_name", "clerk", "leader",
                   "level", "reason_names", "comment", "state", "state_text", "deadline", "overdue", "attempts")
FOLLOWUP_LABELS = {"hall": "大厅编号", "hall_name": "大厅", "case": "办件号", "day": "办件日期", "business": "业务",
                   "window": "窗口编号", "window_name": "窗口", "clerk": "工号", "leader": "负责人", "level": "评价等级",
                   "reason_names": "差评原因", "comment": "意见", "state": "状态码", "state_text": "状态",
                   "deadline": "整改期限", "overdue": "已逾期", "attempts": "回访次数"}


async def get_followups(request: Request) -> Response:
    await require(request, "supervisor")
    q = request.query_params
    extra = sorted(set(q) - {"hall", "state", "overdue", "from", "to", "format", "limit"})
    if extra:
        raise BadRequest(f"未知参数 {', '.join(extra)}（unknown parameter(s) {', '.join(extra)}）")
    state = q.get("state")
    if state is not None and state not in ranking.FOLLOWUP_STATES:
        raise BadRequest(f"state 只能是 {'、'.join(ranking.FOLLOWUP_STATES)}")
    overdue = q.get("overdue")
    if overdue not in (None, "true", "false"):
        raise BadRequest("overdue 只能是 true 或 false")
    limit = q.get("limit") or "500"
    if not limit.isdigit() or not 1 <= int(limit) <= 5000:
        raise BadRequest("limit 须为 1..5000")
    fmt = q.get("format") or "json"
    if fmt not in FORMATS:
        raise BadRequest("format 只能是 json、csv、xlsx（format must be json, csv or xlsx）")
    day_from, day_to = q.get("from"), q.get("to")
    if day_from or day_to:
        try:
            day_from, day_to = reports.parse_range(day_from or "2000-01-01", day_to, today(request), max_days=100000)
        except reports.ReportError as exc:
            raise BadRequest(str(exc)) from None
    hall = _id_param(q, "hall")
    rows = await ranking.followups(request.app.state.pool, time.time(), hall, state,
                                   None if overdue is None else overdue == "true", day_from, day_to, int(limit))
    for r in rows:
        for k in ("due_at", "called_back_at", "rectified_at", "closed_at"):
            r[k] = iso(r[k])
    p = {"format": fmt, "from": day_from or "all", "to": day_to or "all", "group_by": ""}
    if fmt == "json":
        return JSONResponse({"rows": rows, "overdue": sum(1 for r in rows if r["overdue"])})
    return respond("city_followups", p, rows, FOLLOWUP_FIELDS, FOLLOWUP_LABELS, "差评整改")


async def healthz(request: Request) -> JSONResponse:
    try:
        await request.app.state.pool.fetchval("SELECT 1")
        ok = True
    except Exception:
        ok = False
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": {"database": ok}},
                        status_code=200 if ok else 503)


class _IngestCollector:
    def __init__(self, stats: ingest.Stats):
        self.stats = stats

    def collect(self):
        s = self.stats
        for name, doc, value in (
                ("queued_central_batches", "Batches stored by this instance", s.batches),
                ("queued_central_events_stored", "Events stored by this instance", s.stored),
                ("queued_central_events_duplicate", "Resent events recognised and not stored again", s.duplicates),
                ("queued_central_events_uninterpreted", "Stored events whose data did not fit their kind", s.skipped),
                ("queued_central_ingest_seconds", "Time spent storing batches", s.seconds)):
            c = CounterMetricFamily(name, doc)
            c.add_metric([], value)
            yield c


async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


def error_json(exc: CentralError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message, **exc.extra}}, status_code=exc.status)


async def _central_error(request: Request, exc: CentralError) -> Response:
    return error_json(exc)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code)


async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=413,
                        headers={"connection": "close"})


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises it after this answer; queued.web.server.LoggedErrors logs it, once.
    return JSONResponse({"error": {"code": "internal", "message": "服务内部错误（internal error）"}}, status_code=500)


API_ROUTES = [
    Route("/api/v1/ingest", post_ingest, methods=["POST"]),
    Route("/api/v1/halls", get_halls, methods=["GET"]),
    Route("/api/v1/reports/reviews", report_reviews, methods=["GET"]),
    Route("/api/v1/reports/queues", report_queues, methods=["GET"]),
    Route("/api/v1/reports/ranking", report_ranking, methods=["GET"]),
    Route("/api/v1/followups", get_followups, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]


def create_app(state: dict[str, Any], extra_routes=()) -> Starlette:
    """`state`: pool, partitions, tokens, config (and session, set by central.pages)."""
    app = Starlette(routes=[*API_ROUTES, *extra_routes], exception_handlers={
        CentralError: _central_error, HTTPException: _http_error, BodyTooLarge: _too_large,
        Exception: _server_error})
    for k, v in state.items():
        setattr(app.state, k, v)
    from zoneinfo import ZoneInfo
    _TZ[:] = [ZoneInfo(state["config"].timezone)]
    app.state.stats = ingest.Stats()
    app.state.registry = CollectorRegistry(auto_describe=True)
    app.state.registry.register(_IngestCollector(app.state.stats))
    from queued.web.server import ServerCollector
    app.state.registry.register(ServerCollector())
    # Body limit (ingest batches), text rule and cross-site refusal of /city's forms: queued/web/edge.py.
    app.add_middleware(Edge, same_origin=SameOrigin(public_url=state["config"].public_url,
                                                    sign_in_paths=SIGN_IN_PATHS, system="本系统", message=CROSS_SITE),
                       limit=MAX_BODY, too_large=TOO_LARGE)
    return app

