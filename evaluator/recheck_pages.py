"""/r/{token}: the citizen's page to judge the rectification of their 差评 (二次评价).

Phone-sized, Chinese, and works without JavaScript: a plain form of five levels and a comment,
posted back to the same address. The link's token is the only credential (it reached the citizen
by SMS or WeChat); a wrong, expired or answered link says so in Chinese. Nothing about the citizen
(name, phone) is on the page; what was done (整改措施) is, since that is what they judge.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evaluator import recheck as r
from evaluator.admin import MODE_TEXT
from evaluator.errors import EvaluatorError
from queued.core.errors import CoreError
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import form_body

LEVELS = [(5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意")]
HERE = Path(__file__).parent


class RecheckPages:
    def __init__(self, adapter):
        self.a = adapter
        self.templates = make_templates(HERE / "templates", HERE.parent / "queued" / "channels" / "templates")
        self.routes = [Route("/r/{token}", self.page, methods=["GET"]),
                       Route("/r/{token}", self.submit, methods=["POST"])]

    def render(self, request: Request, status: int = 200, **context) -> Response:
        context.setdefault("hall_name", self.a.config.hall.name)
        context.setdefault("levels", LEVELS)
        resp = self.templates.TemplateResponse(request, "recheck.html", context, status_code=status)
        resp.headers["Referrer-Policy"] = "same-origin"  # the token is in the address: never sent to other sites
        resp.headers["Cache-Control"] = "no-store"
        return resp

    async def _facts(self, link: r.Link) -> dict:
        hall = self.a.config.hall
        j = self.a.runtime.journal
        row = await j.fetchone("SELECT rect_mode, plan_date, rectified_at FROM followups WHERE case_id = ?",
                               (link.case,))
        act = await j.fetchone("SELECT detail FROM followup_actions WHERE case_id = ? AND action = 'rectify'"
                               " ORDER BY id DESC LIMIT 1", (link.case,))
        b = hall.business_index.get(link.business)
        w = hall.window_index.get(link.window)
        d = datetime.fromisoformat(link.day)
        return {"business": b.name if b else link.business, "window": w.label if w else f"{link.window}号窗口",
                "day": f"{d.year}年{d.month}月{d.day}日",
                "mode": MODE_TEXT.get(row["rect_mode"] or "") if row else "",
                "plan_date": row["plan_date"] if row else None,
                "measures": json.loads(act["detail"]).get("note", "") if act else "",
                "expires": datetime.fromtimestamp(link.expires_at, self.a.runtime.calendar.tz).strftime("%Y-%m-%d")}

    def _find(self, token: str) -> r.Link | None:
        try:
            return self.a.book.link(token)
        except EvaluatorError:
            return None

    async def page(self, request: Request) -> Response:
        link = self._find(request.path_params["token"])
        if link is None:
            return self.render(request, 404, error="链接无效。请核对短信或微信通知中的链接是否完整。")
        facts = await self._facts(link)
        if link.answered:
            return self.render(request, facts=facts, done="您已评价过本次整改，感谢您的反馈！")
        if self.a.runtime.clock() >= link.expires_at:
            return self.render(request, 409, facts=facts, error=f"评价链接已过期（{r.RECHECK_VALID_DAYS} 天内有效）。"
                                                                 "如有意见请拨打大厅监督电话。")
        return self.render(request, facts=facts, token=link.token)

    async def submit(self, request: Request) -> Response:
        token = request.path_params["token"]
        link = self._find(token)
        if link is None:
            return self.render(request, 404, error="链接无效。请核对短信或微信通知中的链接是否完整。")
        facts = await self._facts(link)
        form: dict[str, str] = {}
        try:
            form = await form_body(request)
            raw = form.get("level", "")
            if raw not in {"1", "2", "3", "4", "5"}:
                raise ApiError("invalid_request", "请先选择您对整改结果的评价。")
            comment = form.get("comment", "")
            if len(comment) > r.MAX_COMMENT:
                raise ApiError("invalid_request", f"意见请不超过 {r.MAX_COMMENT} 字。")
            await self.a.answer(token, int(raw), comment)
        except (ApiError, CoreError) as exc:
            status = getattr(exc, "status", None) or {"already_rated": 409, "rating_closed": 409,
                                                      "invalid_state": 409, "not_found": 404}.get(exc.code, 422)
            message = exc.message.split("（")[0]  # the Chinese part: citizens never see English
            if exc.code == "already_rated":
                return self.render(request, 409, facts=facts, done=message)
            return self.render(request, status, facts=facts, token=token, error=message,
                               chosen=form.get("level"), comment=form.get("comment", ""))
        return self.render(request, 200, facts=facts, done="感谢您的评价！您的意见已记录，并将报送省好差评平台。")
