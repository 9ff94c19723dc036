"""The 差评 loop with the citizen, in the daemon: the phone (contact), the 二次评价 link and its delivery.

- Components: `ContactBook` (the citizen's phone given with consent, evaluator/contact.py) and
  `RecheckBook` (links and answers, evaluator/recheck.py), added before start so replay feeds them.
- When a follow-up is rectified (`followup_rectified` commits) a task picks the way to reach the
  citizen — WeChat subscribe notice when the ticket was taken in WeChat and `[wechat]
  template_recheck` is set, else SMS (`[sms]`, Aliyun) when a phone is known — and journals
  `IssueRecheck`; the link's delivery row is written in the same transaction (recheck_store.py).
  With no way, no link is made: the follow-up page says why.
- A sender task sends due deliveries, one at a time, off the hall's path: HTTP timeouts, retries of
  transient failures after BACKOFF_S (flow control isv.BUSINESS_LIMIT_CONTROL, the provider's 5xx,
  network), a permanent refusal or `max_attempts` marks it failed — visible on the follow-up page
  with the provider's code, with a 重新发送 button (`resend`). WeChat's 43101 (the citizen did not
  accept the notice) falls back to SMS when a phone is known. Nothing here ever waits in a request.
- Routes: /r/{token} (the citizen's page, evaluator/recheck_pages.py), POST /api/v1/rechecks/{token}
  (the same answer as JSON), POST /api/v1/contacts (the citizen's phone with consent; public,
  holder only). The supervisor's POST /api/v1/followups/{case}/recheck arrives through
  evaluator/admin.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from datetime import datetime

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from evaluator import contact
from evaluator import recheck as r
from evaluator import recheck_store as store
from evaluator.events import LEVEL_NAMES
from evaluator.sms import AliyunSms, SmsError, settings_from
from queued.core.errors import CoreError
from queued.core.phone import mask_phone
from queued.web.errors import ApiError
from queued.web.inputs import ID_MAX, field, json_body, no_unknown, principal

log = logging.getLogger("evaluator.recheck")
BACKOFF_S = (60.0, 300.0, 1800.0, 7200.0, 21600.0)  # after the 1st, 2nd, … transient failure
WECHAT_REFUSED = 43101


class RecheckAdapter:
    def __init__(self, daemon):
        from evaluator import recheck_pages

        self.daemon = daemon
        self.runtime = rt = daemon.runtime
        self.config = daemon.config
        ratings = daemon.adapter("EvaluatorAdapter").book
        self.followups = daemon.adapter("AdminAdapter").book
        self.contacts = contact.ContactBook(ratings)
        self.book = r.RecheckBook(self.followups)
        rt.add_component(self.contacts)
        rt.add_component(self.book)
        self.sms_settings = settings_from(self.config.sections.get("sms"))
        self.sms: AliyunSms | None = None
        self.template_recheck = (self.config.sections.get("wechat") or {}).get("template_recheck", "")
        self.backoff_s = BACKOFF_S
        self.poll_s = 5.0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._sender: asyncio.Task | None = None
        self.deliveries = Counter("queued_recheck_deliveries", "二次评价 link deliveries by way and result "
                                  "(sent, retry, failed)", ["via", "result"], registry=daemon.metrics.registry)
        self.pages = recheck_pages.RecheckPages(self)
        self.routes = [
            Route("/api/v1/rechecks/{token}", self.api_answer, methods=["POST"]),
            Route("/api/v1/contacts", self.api_contact, methods=["POST"]),
            *self.pages.routes,
        ]
        rt.subscribe(self._on_events)

    async def start(self) -> None:
        if self.sms_settings is not None:
            self.sms = AliyunSms(self.sms_settings)
        rows = await self.runtime.journal.fetchall(
            "SELECT f.case_id FROM followups f LEFT JOIN rechecks k ON k.case_id = f.case_id"
            " WHERE f.state = 'rectified' AND k.case_id IS NULL")
        for row in rows:  # rectified while the daemon was stopping
            self._spawn(self._auto_issue(row["case_id"]))
        self._sender = asyncio.create_task(self._send_loop(), name="recheck-sender")

    async def stop(self) -> None:
        for t in [*self._tasks, *([self._sender] if self._sender else [])]:
            t.cancel()
        await asyncio.gather(*self._tasks, *([self._sender] if self._sender else []), return_exceptions=True)
        if self.sms is not None:
            await self.sms.close()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_events(self, events) -> None:
        for ev in events:
            if ev.kind == "followup_rectified":
                self._spawn(self._auto_issue(ev.case))
            elif ev.kind == "recheck_issued":
                self._wake.set()

    # ---- the way to the citizen ---------------------------------------------------------------------

    def wechat_client(self):
        mobile = self.daemon.adapter("WeChatMobile")
        return getattr(mobile, "client", None)

    async def reach(self, case: int) -> tuple[str | None, str, str | None, str | None]:
        """(way or None, why not, openid, phone) for the citizen of `case`."""
        j = self.runtime.journal
        row = await j.fetchone("SELECT t.openid FROM followups f LEFT JOIN tickets t ON t.id = f.ticket"
                               " WHERE f.case_id = ?", (case,))
        openid = row["openid"] if row is not None else None
        phone = (await contact.phones(j, [case])).get(case, ("", ""))[0] or None
        if openid and self.template_recheck and self.wechat_client() is not None:
            return "wechat", "", openid, phone
        if phone and self.sms is not None:
            return "sms", "", openid, phone
        if phone:
            why = "未配置短信服务（[sms]），无法自动发送二次评价链接：请电话回访时请群众评价整改结果"
        elif openid:
            why = "未配置微信整改通知模板（[wechat] template_recheck），且没有群众的手机号"
        else:
            why = "没有群众的联系方式：办件未登记手机号，群众也未留下手机号"
        return None, why, openid, phone

    async def _auto_issue(self, case: int) -> None:
        try:
            await self.issue(case)
        except (CoreError, ApiError) as exc:
            log.info("二次评价 link for case %s not sent: %s", case, getattr(exc, "message", exc))
        except Exception:
            log.exception("二次评价 link for case %s failed", case)

    async def issue(self, case: int) -> None:
        way, why, _, _ = await self.reach(case)
        if way is None:
            raise ApiError("invalid_state", why, 409)
        row = await self.runtime.journal.fetchone(
            "SELECT f.ticket, f.day, f.business, f.window, f.clerk, NULLIF(TRIM(c.project_no), '') AS project_no"
            " FROM followups f LEFT JOIN cases c ON c.case_id = f.case_id WHERE f.case_id = ?", (case,))
        if row is None:
            raise ApiError("not_found", f"没有办件 {case} 的差评整改记录（no follow-up for case {case}）", 404)
        await self.runtime.execute(r.IssueRecheck(case, secrets.token_urlsafe(12), way, row["ticket"], row["day"],
                                                  row["business"], row["window"], row["clerk"], row["project_no"]))

    async def resend(self, case: int) -> dict:
        """The supervisor's 发送/重新发送: make the link if there is none, else deliver it again now."""
        await self.runtime.journal.append([])
        link = self.book.by_case.get(case)
        if link is None:
            await self.issue(case)
        else:
            if link.answered:
                raise ApiError("already_rated", "群众已评价过整改结果，无需再发（the citizen has answered）", 409)
            way, why, _, _ = await self.reach(case)
            if way is None:
                raise ApiError("invalid_state", why, 409)
            await self.runtime.journal.execute_write(
                "UPDATE recheck_deliveries SET state = 'pending', via = ?, attempts = 0, next_at = ? WHERE case_id = ?",
                (way, self.runtime.clock(), case))
            self._wake.set()
        return await self.view(case)

    async def view(self, case: int, full: bool = False) -> dict:
        """The link's state for the follow-up page and API (the token only for the handler: `full`)."""
        row = await store.get(self.runtime.journal, case)
        if row is None:
            way, why, openid, phone = await self.reach(case)
            return {"state": "none", "state_text": "未发送", "way": way, "why": why}
        iso = self.runtime.iso
        out = {"state": "answered" if row["answered_at"] else row["state"], "via": row["via"],
               "attempts": row["attempts"], "code": row["code"], "message": row["message"],
               "issued_at": iso(row["issued_at"]), "expires_at": iso(row["expires_at"]),
               "sent_at": iso(row["sent_at"]), "last_at": iso(row["last_at"]), "next_at": iso(row["next_at"]),
               "answered_at": iso(row["answered_at"]), "level": row["level"],
               "level_name": LEVEL_NAMES.get(row["level"])}
        out["state_text"] = {"pending": "待发送", "retrying": "发送失败，等待重试", "sent": "已发送",
                             "failed": "发送失败", "answered": "群众已评价"}.get(out["state"], out["state"])
        if full:
            out["link"] = self.link_url(row["token"])
        return out

    def link_url(self, token: str) -> str:
        mobile = self.daemon.adapter("WeChatMobile")
        base = mobile.base_url() if mobile is not None else self.config.public_url
        return f"{base}/r/{token}"

    # ---- sending ----------------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("二次评价 link sender failed; trying again in %.0f s", self.poll_s)

    async def send_due(self) -> int:
        rows = await self.runtime.journal.fetchall(
            "SELECT case_id, via, attempts FROM recheck_deliveries WHERE next_at IS NOT NULL AND next_at <= ?"
            " ORDER BY next_at LIMIT 20", (self.runtime.clock(),))
        for row in rows:
            await self._deliver(row["case_id"], row["via"], row["attempts"])
        return len(rows)

    async def _deliver(self, case: int, via: str, attempts: int) -> None:
        link = self.book.by_case.get(case)
        if link is None or link.answered:
            await self._record(case, via, "sent" if link else "failed", attempts, None, None, None)
            return
        _, _, openid, phone = await self.reach(case)
        attempts += 1
        try:
            if via == "wechat":
                try:
                    await self._wechat(link, openid)
                    biz = None
                except _Refused:
                    if not (phone and self.sms is not None):
                        raise
                    via = "sms"  # the citizen did not accept the notice: the phone they gave
                    biz = await self._sms(link, phone)
            else:
                biz = await self._sms(link, phone)
        except _Failed as exc:
            retry = exc.transient and attempts < self._max_attempts()
            result = "retry" if retry else "failed"
            self.deliveries.labels(via, result).inc()
            log.warning("二次评价 link of case %s by %s to %s not sent (attempt %d): %s", case, via,
                        mask_phone(phone) if via == "sms" else "wechat user", attempts, exc.code)
            next_at = self.runtime.clock() + self.backoff_s[min(attempts - 1, len(self.backoff_s) - 1)] if retry else None
            await self._record(case, via, "retrying" if retry else "failed", attempts, next_at, exc.code, exc.text)
            return
        self.deliveries.labels(via, "sent").inc()
        await self._record(case, via, "sent", attempts, None, "OK", None, biz)

    def _max_attempts(self) -> int:
        return self.sms_settings.max_attempts if self.sms_settings is not None else 6

    async def _record(self, case, via, state, attempts, next_at, code, message, biz=None) -> None:
        now = self.runtime.clock()
        await self.runtime.journal.execute_write(
            "UPDATE recheck_deliveries SET state = ?, via = ?, attempts = ?, next_at = ?, last_at = ?, code = ?,"
            " message = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, biz_id = COALESCE(?, biz_id)"
            " WHERE case_id = ?", (state, via, attempts, next_at, now, code, message, state, now, biz, case))

    async def _sms(self, link: r.Link, phone: str | None) -> str:
        if self.sms is None:
            raise _Failed("no_sms", "未配置短信服务（[sms]）", False)
        if not phone:
            raise _Failed("no_phone", "没有群众的手机号", False)
        try:
            return await self.sms.send(phone, {"hall": self.config.hall.name[:20], "token": link.token},
                                       out_id=str(link.case))
        except SmsError as exc:
            raise _Failed(exc.code, exc.text, exc.transient) from None

    async def _wechat(self, link: r.Link, openid: str | None) -> None:
        from queued.channels.wechat import WeChatError

        client = self.wechat_client()
        if client is None or not openid or not self.template_recheck:
            raise _Refused("no_wechat", "无法通过微信通知", False)
        hall = self.config.hall
        b = hall.business_index.get(link.business)
        at = datetime.fromtimestamp(self.runtime.clock(), self.runtime.calendar.tz)
        data = {"thing1": {"value": (b.name if b else link.business)[:20]},
                "time2": {"value": f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}"},
                "thing3": {"value": "您反映的问题已整改，请评价"}}
        try:
            await client.send_subscribe(openid, self.template_recheck, data, self.link_url(link.token))
        except WeChatError as exc:
            code = "network" if exc.errcode is None else str(exc.errcode)
            cls = _Refused if exc.errcode == WECHAT_REFUSED else _Failed
            raise cls(f"wechat_{code}", f"微信通知失败：{exc.errmsg}", exc.transient) from None

    # ---- the citizen's answers ----------------------------------------------------------------------

    async def answer(self, token: str, level: int, comment: str) -> dict:
        link = self.book.link(token)
        row = await self.runtime.journal.fetchone("SELECT via FROM recheck_deliveries WHERE case_id = ?", (link.case,))
        channel = row["via"] if row is not None else "sms"
        events, _ = await self.runtime.execute(r.AnswerRecheck(token, level, comment, str(uuid.uuid4()), channel))
        x = events[0]
        return {"case": x.case, "level": x.level, "level_name": LEVEL_NAMES[x.level], "at": self.runtime.iso(x.at)}

    async def api_answer(self, request: Request) -> JSONResponse:
        if await principal(request) is not None:
            raise ApiError("forbidden", "工作人员不能代为评价，评价由群众本人作出（a staff token never rates）")
        token = request.path_params["token"]
        self.book.link(token)  # a wrong link is a 404 before the body is read
        data = await json_body(request)
        no_unknown(data, "level", "comment")
        out = await self.answer(token, field(data, "level", int), field(data, "comment", str, ""))
        return JSONResponse(out, status_code=201)

    async def api_contact(self, request: Request) -> JSONResponse:
        """(public) The citizen's phone for the call-back, with consent: the holder only."""
        if await principal(request) is not None:
            raise ApiError("forbidden", "手机号由群众本人留下，工作人员请通过办件登记（staff tokens cannot give it）")
        data = await json_body(request)
        no_unknown(data, "ticket", "case", "key", "phone", "consent")
        case = field(data, "case", int, None)
        if case is not None and not 0 <= case < 2**32:
            raise ApiError("invalid_request", "办件号超出范围（case out of range）")
        cmd = contact.GiveContact(field(data, "phone", str, max_len=20), field(data, "consent", bool, False),
                                  case, field(data, "ticket", str, None, max_len=ID_MAX),
                                  field(data, "key", str, None, max_len=ID_MAX),
                                  await request.app.state.mobile_session(request))
        if cmd.ticket is None and cmd.case is None:
            raise ApiError("invalid_request", "需要票号（ticket is required）")
        events, _ = await self.runtime.execute(cmd)
        x = events[0]
        return JSONResponse({"case": x.case, "phone": mask_phone(x.phone), "consent": True}, status_code=201)


class _Failed(Exception):
    def __init__(self, code: str, text: str, transient: bool):
        super().__init__(code)
        self.code, self.text, self.transient = code, text, transient


class _Refused(_Failed):
    pass


__all__ = ["RecheckAdapter"]
