"""`GET /api/v1/tickets/{id}/cases`: the 办件 of a ticket with their rating state (http-api.md 1.1).

Staff (`integration`, `supervisor`, `admin`) see every case with its 办件编号, 事项, department and
the applicant masked (the full data is for the 差评 call-back page alone). Extension: the ticket's
holder (its rating key in the `X-Rating-Key` header, from the QR code's link, or the WeChat session
of its openid) sees the same cases without department or applicant, so the QR/WeChat page can say
which 办件 each rating is for; anybody else is refused (403 `not_holder`), as a rating would be.

A case's `state`: `bound` (the ticket is still being served), then the rating book's `open`,
`rated`, `unrated`, `defaulted`; `prompt` is true while its rating prompt is open (the case the
pad asks about now). Cases come in binding order; a ticket with none bound has its implicit case
(`project_no` null).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from evaluator.province.redact import mask
from queued.core.tickets import holder_proof
from queued.web.errors import ApiError
from queued.web.inputs import ID_MAX, principal

_BOUND = (
    "SELECT b.case_id, b.project_no, b.item_code, b.item_name, b.dept_code, b.applicant_name, b.applicant_id,"
    " b.applicant_phone, c.state, c.level, c.day, r.channel, r.at AS rated_at FROM case_bindings b"
    " LEFT JOIN cases c ON c.case_id = b.case_id LEFT JOIN ratings r ON r.case_id = b.case_id"
    " WHERE b.ticket = ? ORDER BY b.case_id"
)
_IMPLICIT = (
    "SELECT c.case_id, NULL AS project_no, '' AS item_code, '' AS item_name, '' AS dept_code,"
    " '' AS applicant_name, '' AS applicant_id, '' AS applicant_phone, c.state, c.level, c.day, r.channel,"
    " r.at AS rated_at FROM cases c LEFT JOIN ratings r ON r.case_id = c.case_id"
    " WHERE c.ticket = ? AND c.project_no IS NULL"
)


def mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if name else ""


def make_routes(adapter) -> list[Route]:
    rt = adapter.runtime
    config = adapter.config

    async def ticket(ticket_id: str) -> dict | None:
        t = rt.engine.tickets.get(ticket_id)
        if t is not None:
            return {"number": t.number, "business": t.business, "rating_key": t.rating_key, "openid": t.openid}
        row = await rt.journal.fetchone("SELECT number, business, rating_key, openid FROM tickets WHERE id = ?",
                                        (ticket_id,))
        return None if row is None else dict(row)

    async def ticket_cases(request: Request) -> JSONResponse:
        ticket_id = request.path_params["ticket_id"]
        if len(ticket_id) > ID_MAX:
            raise ApiError("unknown_ticket", "没有这张票（no such ticket）")
        p = await principal(request)
        staff = p is not None and (p.can("cases") or p.can("reviews"))
        if p is not None and not staff:
            raise ApiError("forbidden", f"角色 {p.role} 不能查看办件（role {p.role!r} may not read cases）")
        t = await ticket(ticket_id)
        if not staff:
            openid = await request.app.state.mobile_session(request)
            key = request.headers.get("x-rating-key")
            if t is None or holder_proof(t["rating_key"], t["openid"], key, openid) is None:
                raise ApiError("not_holder", "只有取号人可以查看：请扫描号票上的二维码（only the ticket's holder may "
                                             "see its cases）")
        if t is None:
            raise ApiError("unknown_ticket", f"没有这张票（no ticket {ticket_id!r}）")
        rows = await rt.journal.fetchall(_BOUND, (ticket_id,))
        if not rows:
            rows = await rt.journal.fetchall(_IMPLICIT, (ticket_id,))
        prompts = adapter.book.prompts
        out = []
        for r in rows:
            case = {"case": r["case_id"], "project_no": r["project_no"], "item_code": r["item_code"],
                    "item_name": r["item_name"], "state": r["state"] or "bound", "level": r["level"],
                    "channel": r["channel"] if r["level"] is not None else None,
                    "rated_at": rt.iso(r["rated_at"]), "prompt": r["case_id"] in prompts}
            if staff:
                case["dept_code"] = r["dept_code"] or config.dept_codes.get(t["business"], "") or config.department
                case["applicant"] = {"name": mask_name(r["applicant_name"]), "id_number": mask(r["applicant_id"]),
                                     "phone": mask(r["applicant_phone"])}
            out.append(case)
        return JSONResponse({"ticket": ticket_id, "number": t["number"], "cases": out})

    return [Route("/api/v1/tickets/{ticket_id}/cases", ticket_cases, methods=["GET"])]
