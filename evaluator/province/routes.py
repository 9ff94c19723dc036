"""The provincial push over HTTP: the outbox for supervisors (/admin/province, Chinese) and its API.

  GET  /admin/province                                  the page (admin session cookie)
  GET  /api/v1/province/outbox?state=&limit=            records not delivered, newest problems first
  GET  /api/v1/province/records/{rating_id}             one rating's records with their attempts
  POST /api/v1/province/records/{rating_id}/repush      a supervisor sends a fixed rejection again
  GET  /api/v1/province/reconciliation?from=&to=        the daily reconciliation (D10)

Receipts shown here are the redacted ones: no ID number or phone ever reaches a page (D12).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from evaluator.events import LEVEL_NAMES
from evaluator.province import reconcile
from evaluator.province.events import ProvinceRepushed
from evaluator.province.redact import mask
from evaluator.review_stats import RangeError, parse_days
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import field, json_body, no_unknown, require

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATE_TEXT = {"pending": "待推送", "blocked_on_service": "等待办件服务", "retrying": "重试中",
              "accepted": "已接收", "duplicate": "已接收（重复）", "rejected": "被拒收",
              "unpushable": "无办件编号", "conflict": "办件编号冲突", "superseded": "已被真实评价替代",
              "excluded": "申诉成立，不推送"}
STEP_TEXT = {"rating": "评价", "service": "办件服务"}
KIND_TEXT = {"first": "首次评价", "second": "二次评价", "default": "系统默认评价"}
PROFILE_TEXT = {"zhejiang": "浙江省政务服务好差评平台", "shandong": "山东省政务服务好差评平台"}
REPUSHABLE = ("rejected", "unpushable", "conflict")
_RATING_ID = re.compile(r"^[A-Za-z0-9:._-]{1,64}$")
COLUMNS = ("id", "profile", "step", "kind", "rating_id", "case_id", "project_no", "seq", "day", "window", "level",
           "channel", "rated_at", "state", "next_at", "attempts", "first_attempt_at", "last_attempt_at",
           "delivered_at", "maybe_delivered", "http_status", "code", "message", "body", "digest", "excluded_at",
           "repushes", "repushed_at", "repushed_by")


def make_routes(adapter) -> list[Route]:
    return ProvinceRoutes(adapter).routes


class ProvinceRoutes:
    def __init__(self, adapter):
        self.a = adapter
        self.templates = make_templates(TEMPLATES)
        self.routes = [
            Route("/admin/province", self.page, methods=["GET"]),
            Route("/api/v1/province/outbox", self.api_outbox, methods=["GET"]),
            Route("/api/v1/province/records/{rating_id}", self.api_record, methods=["GET"]),
            Route("/api/v1/province/records/{rating_id}/repush", self.api_repush, methods=["POST"]),
            Route("/api/v1/province/reconciliation", self.api_reconciliation, methods=["GET"]),
        ]

    # ---- reading --------------------------------------------------------------------------------

    def record_json(self, row) -> dict:
        rt = self.a.runtime
        out = {k: row[k] for k in COLUMNS if k in row.keys()}
        for k in ("rated_at", "next_at", "first_attempt_at", "last_attempt_at", "delivered_at", "excluded_at",
                  "repushed_at"):
            out[k] = rt.iso(out.get(k))
        out["maybe_delivered"] = bool(out.get("maybe_delivered"))
        out["state_text"] = STATE_TEXT.get(out["state"], out["state"])
        out["step_text"] = STEP_TEXT.get(out["step"], out["step"])
        out["kind_text"] = KIND_TEXT.get(out["kind"], out["kind"])
        out["level_name"] = LEVEL_NAMES.get(out["level"])
        out["repushable"] = out["state"] in REPUSHABLE and out.get("excluded_at") is None
        return out

    async def outbox(self, state: str | None = None, limit: int = 200) -> list[dict]:
        s = self.a.settings
        if s is None:
            return []
        states = (state,) if state else ("rejected", "unpushable", "conflict", "retrying", "pending",
                                         "blocked_on_service")
        marks = ",".join("?" * len(states))
        rows = await self.a.runtime.journal.fetchall(
            f"SELECT * FROM province_outbox WHERE profile = ? AND state IN ({marks})"
            " ORDER BY CASE state WHEN 'rejected' THEN 0 WHEN 'unpushable' THEN 1 WHEN 'conflict' THEN 1"
            " ELSE 2 END, rated_at LIMIT ?", (s.profile, *states, limit))
        return [self.record_json(r) for r in rows]

    def day_range(self, q, days: int = 7) -> tuple[str, str]:
        today = self.a.runtime.calendar.day(self.a.runtime.clock())
        default_from = (date.fromisoformat(today) - timedelta(days=days - 1)).isoformat()
        try:
            return parse_days(q.get("from") or default_from, q.get("to"), today)
        except RangeError as exc:
            raise ApiError("invalid_request", str(exc)) from None

    async def reconciliation(self, day_from: str, day_to: str) -> list[dict]:
        s = self.a.settings
        if s is None:
            return []
        rt = self.a.runtime
        now = rt.clock()
        out = []
        d, end = date.fromisoformat(day_from), date.fromisoformat(day_to)
        if (end - d).days > 92:
            raise ApiError("invalid_request", "对账一次最多 93 天（at most 93 days at a time）")
        while d <= end:
            day = d.isoformat()
            for w in await reconcile.reconcile_day(rt.journal, day, s.profile, self.a.defaults, now, s.retry_max_s):
                out.append(dict(w, day=day, oldest_gap_at=rt.iso(w["oldest_gap_at"])))
            d += timedelta(days=1)
        return out

    # ---- API ------------------------------------------------------------------------------------

    def _configured(self):
        if self.a.settings is None:
            raise ApiError("not_found", "本厅未配置省平台推送（no [province] in the configuration）", 404)
        return self.a.settings

    async def api_outbox(self, request: Request) -> JSONResponse:
        await require(request, "reviews")
        s = self._configured()
        q = request.query_params
        unknown = sorted(set(q) - {"state", "limit"})
        if unknown:
            raise ApiError("invalid_request", f"未知参数 {', '.join(unknown)}（unknown parameter(s)）")
        state = q.get("state") or None
        if state is not None and state not in STATE_TEXT:
            raise ApiError("invalid_request", f"state 只能是 {', '.join(STATE_TEXT)}（unknown state）")
        raw = q.get("limit") or "200"
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ApiError("invalid_request", "limit 须为 1..1000（limit must be 1..1000）")
        await self.a.runtime.journal.append([])
        await self.a.refresh()
        return JSONResponse({"profile": s.profile, "figures": self.a.figures, "alert": self.a.alert,
                             "records": await self.outbox(state, int(raw))})

    def _rating_id(self, request: Request) -> str:
        rid = request.path_params["rating_id"]
        if not _RATING_ID.match(rid):
            raise ApiError("invalid_request", "评价编号格式不对（malformed rating id）")
        return rid

    async def api_record(self, request: Request) -> JSONResponse:
        await require(request, "reviews")
        s = self._configured()
        rid = self._rating_id(request)
        j = self.a.runtime.journal
        await j.append([])
        rows = await j.fetchall("SELECT * FROM province_outbox WHERE profile = ? AND rating_id = ? ORDER BY id",
                                (s.profile, rid))
        if not rows:
            raise ApiError("not_found", f"没有评价 {rid} 的推送记录（no outbox record for this rating）", 404)
        out = []
        for r in rows:
            rec = self.record_json(r)
            tries = await j.fetchall("SELECT attempt, started_at, at, outcome, http_status, code, message, digest,"
                                     " maybe FROM province_attempts WHERE outbox_id = ? ORDER BY attempt", (r["id"],))
            rec["history"] = [dict(t) | {"started_at": self.a.runtime.iso(t["started_at"]),
                                         "at": self.a.runtime.iso(t["at"]), "maybe": bool(t["maybe"])} for t in tries]
            out.append(rec)
        return JSONResponse({"rating_id": rid, "records": out})

    async def api_repush(self, request: Request) -> JSONResponse:
        p = await require(request, "reviews")
        s = self._configured()
        rid = self._rating_id(request)
        data = await json_body(request, allow_empty=True)
        no_unknown(data, "by")
        by = (field(data, "by", str, "", max_len=50) or p.label
              or {"admin": "管理员", "supervisor": "督查员"}.get(p.role, p.role))
        j = self.a.runtime.journal
        await j.append([])
        rows = await j.fetchall("SELECT state, excluded_at FROM province_outbox WHERE profile = ? AND rating_id = ?",
                                (s.profile, rid))
        if not rows:
            raise ApiError("not_found", f"没有评价 {rid} 的推送记录（no outbox record for this rating）", 404)
        if not any(r["state"] in REPUSHABLE and r["excluded_at"] is None for r in rows):
            states = "、".join(sorted({STATE_TEXT.get(r["state"], r["state"]) for r in rows}))
            raise ApiError("invalid_state", f"该评价的推送记录为「{states}」，只有被拒收、无办件编号或编号冲突的记录可重新推送"
                                            "（only rejected, unpushable or conflicting records are re-pushed）", 409)
        await self.a.runtime.record([ProvinceRepushed(self.a.runtime.clock(), s.profile, rid, by)])
        rows = await j.fetchall("SELECT * FROM province_outbox WHERE profile = ? AND rating_id = ? ORDER BY id",
                                (s.profile, rid))
        return JSONResponse({"rating_id": rid, "records": [self.record_json(r) for r in rows]})

    async def api_reconciliation(self, request: Request) -> JSONResponse:
        await require(request, "reports")
        s = self._configured()
        q = request.query_params
        unknown = sorted(set(q) - {"from", "to"})
        if unknown:
            raise ApiError("invalid_request", f"未知参数 {', '.join(unknown)}（unknown parameter(s)）")
        day_from, day_to = self.day_range(q)
        await self.a.runtime.journal.append([])
        return JSONResponse({"profile": s.profile, "from": day_from, "to": day_to, "alert": self.a.alert,
                             "retry_max_s": s.retry_max_s, "rows": await self.reconciliation(day_from, day_to)})

    # ---- the page -------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        admin = self.a.daemon.adapter("AdminAdapter")
        p = await admin.sessions.resolve(request) if admin is not None else None
        if p is None:
            return RedirectResponse(f"/admin/login?next={quote(request.url.path)}", status_code=303)
        s = self.a.settings
        ctx = {"user": p, "tab": "province", "hall_name": self.a.daemon.config.hall.name, "configured": s is not None}
        if s is not None:
            await self.a.runtime.journal.append([])
            await self.a.refresh()
            day_from, day_to = self.day_range(request.query_params)
            records = await self.outbox()
            now = self.a.runtime.clock()
            oldest = self.a.oldest_pending_at
            recon = await self.reconciliation(day_from, day_to)
            live = [w for w in recon if w["alert"]]  # the page's days now; the adapter's covers 31 days
            older = [w for w in self.a.alerts if w["day"] < day_from]
            ctx.update(
                profile=s.profile, profile_text=PROFILE_TEXT[s.profile], figures=self.a.figures,
                alert=bool(live or older), alerts=live + older,
                problems=[r for r in records if r["state"] in REPUSHABLE],
                pending=[r for r in records if r["state"] not in REPUSHABLE][:100],
                oldest_age=None if oldest is None else _age(now - oldest),
                delivered=(await self.a.runtime.journal.fetchone(
                    "SELECT COUNT(*) AS n FROM province_outbox WHERE profile = ? AND state IN ('accepted','duplicate')"
                    " AND rated_at >= ?", (s.profile, now - 86400)))["n"],
                recon=recon, day_from=day_from, day_to=day_to,
                retry_max=_age(s.retry_max_s), mask=mask)
        return self.templates.TemplateResponse(request, "admin_province.html", ctx)


def _age(seconds: float) -> str:
    if seconds < 1:
        return f"{max(0.0, seconds):.1f} 秒"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} 秒"
    if seconds < 3600:
        return f"{seconds // 60} 分钟"
    if seconds < 86400:
        return f"{seconds // 3600} 小时 {seconds % 3600 // 60} 分"
    return f"{seconds // 86400} 天 {seconds % 86400 // 3600} 小时"
