"""HTTP routes of the evaluator: rating (public) and reports (supervisor/admin).

Errors are raised (ApiError or the evaluator's CoreErrors); queued/web/errors.py renders them.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from evaluator import export, hallday, national, reports
from evaluator.commands import Rate
from evaluator.events import LEVEL_NAMES, RatingRecorded
from queued.web.errors import ApiError
from queued.web.inputs import ID_MAX, field, json_body, no_unknown, principal, require

RATING_FIELDS = ("ticket", "key", "case", "level", "reasons", "comment")
CASE_MAX = 2**32 - 1  # a case is a u32 on the pads
FORMATS = ("json", "csv", "xlsx")


def reasons_mask(values: list, count: int) -> int:
    """[1, 3] → 0b101; each a 1-based index of the hall's reason list, each once."""
    mask = 0
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= count:
            raise ApiError("invalid_request", f"reasons 须为 1..{count} 的编号（reasons must be numbers 1..{count}, "
                                              f"got {v!r}）")
        if mask & (1 << (v - 1)):
            raise ApiError("invalid_request", f"差评原因 {v} 重复（reason {v} given twice）")
        mask |= 1 << (v - 1)
    return mask


def rating_json(adapter, x: RatingRecorded) -> dict:
    hall = adapter.config.hall
    numbers = [i + 1 for i in range(len(hall.reasons)) if x.reasons >> i & 1]
    return {
        "case": x.case, "ticket": x.ticket, "level": x.level, "level_name": LEVEL_NAMES[x.level],
        "bad": x.level <= 2, "reasons": numbers, "reason_names": [hall.reasons[i - 1] for i in numbers],
        "no_reason": x.no_reason, "comment": x.comment, "channel": x.channel, "window": x.window,
        "clerk": x.clerk, "business": x.business, "day": x.day, "replaced": x.replaced,
        "at": adapter.runtime.iso(x.at),
    }


def make_routes(adapter) -> list[Route]:
    rt = adapter.runtime
    hall = adapter.config.hall
    depts = reports.Departments(adapter.config.dept_codes, adapter.config.department)

    async def post_rating(request: Request) -> JSONResponse:
        """(public) The holder's rating: the body's `key` (the ticket's rating_key) or the WeChat session
        of the ticket's openid proves it; the rating book checks which, and records that as the channel."""
        if await principal(request) is not None:
            raise ApiError("forbidden", "工作人员不能代为评价，评价由群众本人作出（a staff token never rates）")
        data = await json_body(request)
        no_unknown(data, *RATING_FIELDS)
        x = await adapter.rate(rate_command(data, await request.app.state.mobile_session(request)))
        return JSONResponse(rating_json(adapter, x), status_code=201,
                            headers={"Location": f"/api/v1/reviews/{x.case}"})

    def rate_command(data: dict, session_openid: str | None) -> Rate:
        """The body of POST /api/v1/ratings as a Rate; the holder's proof rides along, the channel never."""
        ticket = field(data, "ticket", str, max_len=ID_MAX)
        level = field(data, "level", int)
        if not 1 <= level <= 5:
            raise ApiError("invalid_request", f"level 须为 1..5（level must be 1..5, got {level}）")
        mask = reasons_mask(field(data, "reasons", list, []), len(hall.reasons))
        comment = field(data, "comment", str, "")
        key = field(data, "key", str, None, max_len=ID_MAX)
        case = field(data, "case", int, None)
        if case is not None and not 1 <= case <= CASE_MAX:
            raise ApiError("invalid_request", f"case 须为办件号（case must be a case id 1..{CASE_MAX}）")
        return Rate(level, case=case, ticket=ticket, reasons=mask, comment=comment, key=key, openid=session_openid)

    async def get_review(request: Request) -> JSONResponse:
        await require(request, "reviews")
        raw = request.path_params["case"]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:  # a case is a u32 on the pads
            raise ApiError("invalid_request", f"办件号须为数字（case must be a number, got {raw[:20]!r}）")
        row = await rt.journal.fetchone(
            "SELECT c.case_id, c.ticket, c.day, c.number, c.business, c.window, c.clerk, c.finished_at, c.state,"
            " r.level, r.reasons, r.comment, r.channel, r.defaulted, r.no_reason, r.replaced, r.at AS rated_at"
            " FROM cases c LEFT JOIN ratings r ON r.case_id = c.case_id WHERE c.case_id=?", (int(raw),))
        if row is None:
            raise ApiError("unknown_ticket", f"没有办件 {raw}（no served case {raw}）")
        out = dict(row)
        out["case"] = out.pop("case_id")
        mask = out["reasons"] or 0
        out["reasons"] = national.reason_list(mask)
        out["reason_names"] = [hall.reasons[i - 1] for i in out["reasons"] if i <= len(hall.reasons)]
        out["level_name"] = LEVEL_NAMES.get(out["level"])
        for k in ("defaulted", "no_reason"):
            out[k] = bool(out[k])
        out["finished_at"], out["rated_at"] = rt.iso(out["finished_at"]), rt.iso(out["rated_at"])
        return JSONResponse(out)

    def params(request: Request, with_group: bool = True,
               groups: tuple[str, ...] = reports.GROUPS) -> tuple[str, str, str, str]:
        q = request.query_params
        allowed = {"from", "to", "group_by", "format", "scheme"}
        extra = sorted(set(q) - allowed)
        if extra:
            raise ApiError("invalid_request", f"未知参数 {', '.join(extra)}（unknown parameter(s) {', '.join(extra)}）")
        fmt = q.get("format") or "json"
        if fmt not in FORMATS:
            raise ApiError("invalid_request", "format 只能是 json、csv、xlsx（format must be json, csv or xlsx）")
        try:
            start, end = reports.parse_range(q.get("from"), q.get("to"), rt.calendar.day(rt.clock()))
            group = reports.check_group(q.get("group_by"), groups) if with_group else ""
        except reports.ReportError as exc:
            raise ApiError("invalid_request", str(exc)) from None
        return start, end, group, fmt

    def respond(name: str, start: str, end: str, group: str, fmt: str, rows: list[dict], fields, labels,
                title: str, extra: dict | None = None) -> Response:
        if fmt == "json":
            body = {"from": start, "to": end, **({"group_by": group} if group else {}), **(extra or {}), "rows": rows}
            return JSONResponse(body)
        fname = export.filename(name, start, end, group or "all", fmt)
        disposition = {"Content-Disposition": f'attachment; filename="{fname}"'}
        if fmt == "csv":
            return Response(export.to_csv(rows, fields, labels), media_type=export.CSV_TYPE, headers=disposition)
        return Response(export.to_xlsx(rows, fields, labels, title), media_type=export.XLSX_TYPE, headers=disposition)

    async def report_reviews(request: Request) -> Response:
        await require(request, "reports")
        start, end, group, fmt = params(request, groups=reports.REVIEW_GROUPS)
        rows = await reports.reviews(rt.journal, hall, start, end, group, depts)
        return respond("reviews", start, end, group, fmt, rows, reports.review_fields(hall),
                       reports.review_labels(hall), f"好差评 {start}~{end}")

    async def report_queues(request: Request) -> Response:
        await require(request, "reports")
        start, end, group, fmt = params(request)
        rows = await reports.queues(rt.journal, hall, start, end, group)
        fields = list(reports.QUEUE_FIELDS)
        if fmt != "json":  # paused minutes by reason: one column per reason of [hall] pause_reasons
            rows = [hallday.flat_paused(hall, r) for r in rows]
            fields += hallday.paused_fields(hall)
        return respond("queues", start, end, group, fmt, rows, fields,
                       {**reports.LABELS, **hallday.paused_labels(hall)}, f"排队 {start}~{end}")

    async def report_failed(request: Request) -> Response:
        """办不成事 台账: every case finished `failed`, with its note."""
        await require(request, "reports")
        extra = sorted({"group_by", "scheme"} & set(request.query_params))
        if extra:
            raise ApiError("invalid_request", f"未知参数 {', '.join(extra)}（unknown parameter(s) {', '.join(extra)}）")
        start, end, _, fmt = params(request, with_group=False)
        rows = await hallday.failed(rt.journal, hall, start, end, rt.iso)
        return respond("failed", start, end, "", fmt, rows, hallday.FAILED_FIELDS, hallday.FAILED_LABELS,
                       f"办不成事 {start}~{end}")

    async def report_national(request: Request) -> Response:
        await require(request, "reports")
        start, end, _, fmt = params(request, with_group=False)
        scheme = request.query_params.get("scheme") or "national"
        if scheme not in national.SCHEMES:
            raise ApiError("invalid_request", "scheme 只能是 national 或 gbt（scheme must be national or gbt）")
        rows = await national.national_rows(rt.journal, adapter.config, start, end, scheme, rt.iso)
        return respond(f"national_{scheme}", start, end, "", fmt, rows, national.FIELDS, national.LABELS,
                       f"好差评上报 {start}~{end}", {"scheme": scheme})

    return [
        Route("/api/v1/ratings", post_rating, methods=["POST"]),
        Route("/api/v1/reviews/{case}", get_review, methods=["GET"]),
        Route("/api/v1/reports/reviews", report_reviews, methods=["GET"]),
        Route("/api/v1/reports/queues", report_queues, methods=["GET"]),
        Route("/api/v1/reports/national", report_national, methods=["GET"]),
        Route("/api/v1/reports/failed", report_failed, methods=["GET"]),
    ]
