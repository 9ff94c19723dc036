"""The supervisor side of 好差评: the 差评 follow-up component and API, the live hall, and the
/admin pages (evaluator/admin_pages.py) with their cookie sign-in.

Every 差评 (a citizen's RatingRecorded of level 1–2; 系统默认评价 never) opens a follow-up item as
soon as the rating commits: a listener decides `OpenFollowup` in the loop and journals it. Should
the daemon stop between the two commits, `start()` opens what is missing from the `ratings` table.

API (supervisor/admin, the "reviews" right; rates need "reports"):
  GET  /api/v1/followups?state=&overdue=true|false&window=&from=&to=
  GET  /api/v1/followups/{case}
  POST /api/v1/followups/{case}/{callback|rectify|verdict|appeal|decide-appeal}
  GET  /api/v1/reports/followups?from=&to=&group_by=window|leader|business|day|month|all&format=json|csv
  GET  /api/v1/hall/live    the supervisor's live hall (windows, waits past the yellow/red lines)
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from evaluator import contact, export
from evaluator import followup as f
from evaluator import followup_store as store
from evaluator.admin_session import AdminSessions
from evaluator.events import LEVEL_NAMES, is_bad
from evaluator.review_stats import RangeError, parse_days
from queued.core.errors import CoreError
from queued.core.phone import mask_phone
from queued.metrics import label_values
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import field, json_body, no_unknown, require

log = logging.getLogger("evaluator.admin")
TEMPLATES = Path(__file__).parent / "templates"
VERDICT_TEXT = {"satisfied": "满意", "dissatisfied": "不满意", "unreachable": "无法联系"}
MODE_TEXT = {"immediate": "立行立改", "plan": "限期整改"}
# The follow-up rates' columns (followup_store.rates) as the CSV export names them: one Chinese header.
RATE_LABELS = {
    "key": "分组", "items": "差评件数", "removed": "申诉撤销", "called_back": "已联系上", "attempted": "已回访",
    "named": "实名差评", "named_called_back": "实名已联系上", "rectified": "已整改", "closed": "已办结",
    "satisfied": "整改满意", "judged": "整改已评价", "appealing": "申诉中", "overdue": "逾期",
    "callback_rate": "回访率", "named_callback_rate": "实名差评回访率", "rectification_rate": "整改率",
    "satisfaction_rate": "整改满意率",
}


class AdminAdapter:
    def __init__(self, daemon):
        self.daemon = daemon
        self.runtime = rt = daemon.runtime
        self.config = daemon.config
        self.book = f.FollowupBook(daemon.config, rt.calendar)
        rt.add_component(self.book)
        rt.subscribe(self._on_events)
        self.sessions = AdminSessions(daemon)
        self.templates = make_templates(TEMPLATES)
        from evaluator import admin_pages

        self.pages = admin_pages.AdminPages(self)
        self.routes = [
            Route("/api/v1/followups", self.api_list, methods=["GET"]),
            Route("/api/v1/followups/{case:u32}", self.api_get, methods=["GET"]),
            label_values(Route("/api/v1/followups/{case:u32}/{action}", self.api_action, methods=["POST"]),
                         action=("callback", "rectify", "verdict", "appeal", "decide-appeal")),
            Route("/api/v1/reports/followups", self.api_rates, methods=["GET"]),
            Route("/api/v1/hall/live", self.api_live, methods=["GET"]),
            *self.pages.routes,
        ]

    async def start(self) -> None:
        self.daemon.app.state.session_resolvers.append(self.sessions.resolve)
        await self._open_missing()

    async def stop(self) -> None:
        pass

    # ---- 差评 → follow-up ---------------------------------------------------------------------------

    def _on_events(self, events) -> None:
        for ev in events:
            if ev.kind == "rating_recorded" and is_bad(ev.level):
                t = self.runtime.engine.tickets.get(ev.ticket)
                named = ev.channel == "wechat" or bool(t is not None and t.openid)
                self._decide(f.OpenFollowup(ev.case, ev.ticket, ev.day, ev.business, ev.window, ev.clerk,
                                            ev.level, ev.reasons, ev.comment, ev.channel, named))

    def _decide(self, cmd) -> None:
        try:
            events = self.runtime.decide(cmd)
        except CoreError as exc:
            log.warning("follow-up for case %s not opened: %s", cmd.case, exc.message)
            return
        if events:
            fut = self.runtime.journal.append(events)
            fut.add_done_callback(lambda x: x.cancelled() or x.exception())  # failures surface in /healthz

    async def _open_missing(self) -> None:
        rows = await self.runtime.journal.fetchall(
            "SELECT r.case_id, r.ticket, r.day, r.business, r.window, r.clerk, r.level, r.reasons, r.comment,"
            " r.channel, t.openid FROM ratings r LEFT JOIN followups fu ON fu.case_id = r.case_id"
            " LEFT JOIN tickets t ON t.id = r.ticket"
            " WHERE r.level <= 2 AND r.defaulted = 0 AND r.channel != 'default' AND fu.case_id IS NULL")
        for r in rows:
            if r["case_id"] in self.book.items:
                continue
            log.info("opening the missing follow-up of case %s", r["case_id"])
            await self.runtime.execute(f.OpenFollowup(
                r["case_id"], r["ticket"], r["day"], r["business"], r["window"], r["clerk"], r["level"],
                r["reasons"], r["comment"], r["channel"], r["channel"] == "wechat" or bool(r["openid"])))

    # ---- JSON views -----------------------------------------------------------------------------------

    def name_of(self, clerk: str | None) -> str | None:
        c = self.config.hall.clerk_index.get(clerk) if clerk else None
        return c.name if c else None

    def item_json(self, row: dict, phone: tuple[str, str] | None = None, full: bool = False) -> dict:
        """One item as the API shows it. `phone` (number, source): shown whole only when `full` (the
        supervisor handling it, contact.can_see_phone), else masked 138****1234."""
        rt, hall = self.runtime, self.config.hall
        out = {"case": row["case_id"], **{k: v for k, v in row.items() if k != "case_id"}}
        number, source = phone or ("", "")
        out["phone"] = (number if full else mask_phone(number)) or None
        out["phone_masked"] = bool(number) and not full
        out["phone_source"] = source or None
        out["phone_source_text"] = contact.SOURCE_TEXT.get(source)
        for key in ("opened_at", "due_at", "called_back_at", "rectified_at", "closed_at", "appealed_at",
                    "decided_at", "updated_at"):
            out[key] = rt.iso(out.get(key))
        for key in ("named", "contacted", "overdue"):
            out[key] = bool(out.get(key))
        out["upheld"] = None if out.get("upheld") is None else bool(out["upheld"])
        out["state_text"] = f.STATE_TEXT.get(out["state"], out["state"])
        out["level_name"] = LEVEL_NAMES.get(out["level"])
        mask = out["reasons"]
        out["reasons"] = [i + 1 for i in range(len(hall.reasons)) if mask & (1 << i)]
        out["reason_names"] = [hall.reasons[i - 1] for i in out["reasons"]]
        b = hall.business_index.get(out["business"])
        out["business_name"] = b.name if b else out["business"]
        out["clerk_name"] = self.name_of(out["clerk"])
        out["leader_name"] = self.name_of(out["leader"])
        out["verdict_text"] = VERDICT_TEXT.get(out.get("verdict") or "")
        out["rect_mode_text"] = MODE_TEXT.get(out.get("rect_mode") or "")
        if "history" in out:
            for h in out["history"]:
                h["at"] = rt.iso(h["at"])
                if h.get("called_at") is not None:
                    h["called_at"] = rt.iso(h["called_at"])
        return out

    async def items(self, **filters) -> list[dict]:
        """Lists show phones masked, whoever asks."""
        await self.runtime.journal.append([])  # read after every decision already taken
        rows = await store.list_items(self.runtime.journal, self.runtime.clock(), **filters)
        phones = await contact.phones(self.runtime.journal, [r["case_id"] for r in rows])
        return [self.item_json(r, phones.get(r["case_id"])) for r in rows]

    async def item(self, case: int, viewer=None) -> dict:
        await self.runtime.journal.append([])
        row = await store.get_item(self.runtime.journal, case, self.runtime.clock())
        if row is None:
            raise f.UnknownFollowup(f"没有办件 {case} 的差评整改记录（no follow-up for case {case}）")
        phones = await contact.phones(self.runtime.journal, [case])
        full = contact.can_see_phone(viewer, row.get("leader"))
        out = self.item_json(row, phones.get(case), full)
        rc = self.daemon.adapter("RecheckAdapter")
        out["recheck"] = await rc.view(case, full) if rc is not None else None
        return out

    def day_range(self, request: Request, default_from: str | None = None) -> tuple[str, str]:
        q = request.query_params
        today = self.runtime.calendar.day(self.runtime.clock())
        try:
            return parse_days(q.get("from") or default_from, q.get("to"), today)
        except RangeError as exc:
            raise ApiError("invalid_request", str(exc)) from None

    # ---- API ----------------------------------------------------------------------------------------

    async def api_list(self, request: Request) -> JSONResponse:
        await require(request, "reviews")
        q = request.query_params
        unknown = sorted(set(q) - {"state", "overdue", "window", "from", "to"})
        if unknown:
            raise ApiError("invalid_request", f"未知参数 {', '.join(unknown)}（unknown parameter(s)）")
        state = q.get("state") or None
        if state is not None and state not in f.STATE_TEXT:
            raise ApiError("invalid_request", f"state 只能是 {', '.join(f.STATE_TEXT)}（unknown state {state!r}）")
        overdue = {"true": True, "1": True, "false": False, "0": False, None: None, "": None}.get(q.get("overdue"), "?")
        if overdue == "?":
            raise ApiError("invalid_request", "overdue 只能是 true 或 false（overdue must be true or false）")
        window = q.get("window") or None
        if window is not None and window not in self.config.hall.window_index:
            raise ApiError("unknown_window", f"没有{window}号窗口（no window {window!r}）")
        day_from = day_to = None
        if q.get("from") or q.get("to"):
            day_from, day_to = self.day_range(request, "2000-01-01")
        items = await self.items(state=state, overdue=overdue, window=window, day_from=day_from, day_to=day_to)
        return JSONResponse({"followups": items, "count": len(items)})

    async def api_get(self, request: Request) -> JSONResponse:
        p = await require(request, "reviews")
        return JSONResponse(await self.item(request.path_params["case"], p))

    def command_for(self, action: str, case: int, data: dict, by: str):
        if action == "callback":
            no_unknown(data, "contacted", "note", "by", "called_at")
            called_at = field(data, "called_at", str, None)
            ts = None
            if called_at is not None:
                try:
                    dt = datetime.fromisoformat(called_at)
                except ValueError:
                    raise ApiError("invalid_request", "called_at 须为 ISO 8601 时间（called_at is not ISO 8601）") from None
                ts = (dt if dt.tzinfo else dt.replace(tzinfo=self.runtime.calendar.tz)).timestamp()
            return f.RecordCallback(case, by, field(data, "contacted", bool), field(data, "note", str, ""), ts)
        if action == "rectify":
            no_unknown(data, "mode", "note", "plan_date", "by")
            plan_date = field(data, "plan_date", str, None)
            if plan_date is not None:
                try:
                    plan_date = parse_days(plan_date, plan_date, plan_date)[0]
                except RangeError:
                    raise ApiError("invalid_request", "plan_date 须为日期 YYYY-MM-DD（plan_date is not a date）") from None
            return f.RecordRectification(case, by, field(data, "mode", str, choices=f.RECT_MODES),
                                         field(data, "note", str, ""), plan_date)
        if action == "verdict":
            no_unknown(data, "verdict", "note", "by")
            return f.RecordVerdict(case, by, field(data, "verdict", str, choices=f.VERDICTS), field(data, "note", str, ""))
        if action == "appeal":
            no_unknown(data, "reason", "by")
            return f.FileAppeal(case, by, field(data, "reason", str))
        if action == "decide-appeal":
            no_unknown(data, "upheld", "note", "by")
            return f.DecideAppeal(case, by, field(data, "upheld", bool), field(data, "note", str, ""))
        raise ApiError("not_found", f"没有操作 {action}（unknown action {action!r}; actions: callback, rectify,"
                                    " verdict, appeal, decide-appeal）", 404)

    async def api_action(self, request: Request) -> JSONResponse:
        p = await require(request, "reviews")
        case, action = request.path_params["case"], request.path_params["action"]
        if action == "recheck":  # send (again) the 二次评价 link: evaluator/recheck_service.py
            rc = self.daemon.adapter("RecheckAdapter")
            if rc is None:
                raise ApiError("not_found", "二次评价未启用（the recheck adapter is not running）", 404)
            no_unknown(await json_body(request, allow_empty=True))
            await self.item(case)  # 404 for an unknown case
            await rc.resend(case)
            return JSONResponse(await self.item(case, p))
        data = await json_body(request)
        by = field(data, "by", str, "") or p.label or {"admin": "管理员", "supervisor": "督查员"}.get(p.role, p.role)
        cmd = self.command_for(action, case, data, by[:50])
        for key in ("note", "reason"):
            if len(getattr(cmd, key, "") or "") > 1000:
                raise ApiError("invalid_request", f"{key} 不超过 1000 字（{key} longer than 1000 characters）")
        await self.runtime.execute(cmd)
        return JSONResponse(await self.item(case, p))

    async def api_rates(self, request: Request) -> Response:
        await require(request, "reports")
        q = request.query_params
        group_by = q.get("group_by") or "window"
        if group_by not in store.GROUPS:
            raise ApiError("invalid_request", f"group_by 只能是 {', '.join(store.GROUPS)}（unknown group_by）")
        fmt = q.get("format") or "json"
        if fmt not in ("json", "csv"):
            raise ApiError("invalid_request", "format 只能是 json 或 csv（format must be json or csv）")
        today = self.runtime.calendar.day(self.runtime.clock())
        day_from, day_to = self.day_range(request, today[:8] + "01")
        await self.runtime.journal.append([])
        now = self.runtime.clock()
        rows = await store.rates(self.runtime.journal, day_from, day_to, group_by, now)
        total = await store.rates(self.runtime.journal, day_from, day_to, "all", now)
        if fmt == "csv":
            return Response(export.to_csv(rows, list(RATE_LABELS), RATE_LABELS), media_type=export.CSV_TYPE, headers={
                "Content-Disposition": f'attachment; filename="followups-{day_from}-{day_to}.csv"'})
        return JSONResponse({"from": day_from, "to": day_to, "group_by": group_by, "rows": rows,
                             "total": total[0] if total else None})

    async def api_live(self, request: Request) -> JSONResponse:
        await require(request, "reports")
        from evaluator.admin_pages import live_hall

        return JSONResponse(live_hall(self))
