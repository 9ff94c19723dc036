"""The supervisor's pages (/admin) and the public results page (/results, 结果全公开).

/admin/login signs in with a supervisor or admin token and sets the session cookie
(evaluator/admin_session.py); every other /admin page sends a visitor without it to the login.
Pages are rendered on the server; the live hall refreshes its panels every few seconds from
/admin/live (the same template, admin_hall_live.html, over the same live_hall dict that
/api/v1/hall/live returns as JSON). Its supervisor actions are calls of the HTTP API with the
session cookie: POST /api/v1/windows/{w}/pause|resume|call and DELETE /api/v1/tickets/{id}.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from evaluator import charts, hallday, live
from evaluator import followup as f
from evaluator import review_stats as stats
from evaluator.admin_session import ROLES
from queued.auth import token_hash
from queued.core.calendar import FIRST_DAY, LAST_DAY, day_in_range
from queued.web.inputs import form_body


def live_hall(adapter) -> dict:
    """Every window's state and what waits, with waits past the yellow/red lines (电子监察)."""
    rt, hall = adapter.runtime, adapter.config.hall
    eng, now = rt.engine, rt.clock()
    yellow, red = hall.warn_wait_s
    businesses = {b.code: {"code": b.code, "name": b.name, "waiting": 0, "oldest_s": 0, "yellow": 0, "red": 0}
                  for b in hall.businesses}
    late = []
    for t in eng.tickets.values():
        if t.status != "waiting":
            continue
        waited = max(0.0, now - t.issued_at)
        b = businesses[t.business]
        b["waiting"] += 1
        b["oldest_s"] = max(b["oldest_s"], round(waited))
        level = "red" if waited >= red else "yellow" if waited >= yellow else "ok"
        if level != "ok":
            b[level] += 1
            late.append({"number": t.number, "business": t.business, "business_name": b["name"],
                         "waited_s": round(waited), "level": level, "priority": t.priority})
    alert_at = adapter.config.queue_alert
    for b in businesses.values():
        b["level"] = "red" if b["oldest_s"] >= red else "yellow" if b["oldest_s"] >= yellow else "ok"
        # Some halls open another window when a queue passes a set length ([hall] queue_alert).
        b["open_window"] = bool(alert_at) and b["waiting"] >= alert_at
    late.sort(key=lambda x: -x["waited_s"])
    devices = _devices(adapter, now)
    windows = []
    for w in hall.windows:
        v = eng.window_view(w.id)
        windows.append({"window": w.id, "label": w.label, "state": v["state"], "state_text": v["state_text"],
                        "businesses": list(w.businesses),
                        "ticket": v["ticket"], "business": v["business"],
                        "business_name": hall.business_index[v["business"]].name if v["business"] else None,
                        "clerk": v["clerk"], "clerk_name": adapter.name_of(v["clerk"]),
                        "waiting": v["waiting"], "served_today": v["served_today"],
                        "since_s": round(now - v["since"]) if v["since"] else None,
                        "pause_reason": v["pause_reason"],
                        "pad": devices["pads"].get(w.id),
                        "parked": [p["number"] for p in v["parked"]]})  # 挂起 cases of the window
    return {"at": rt.iso(now), "day": eng.day, "warn_wait_s": [yellow, red], "windows": windows,
            "screens": devices["screens"], "broker": devices["broker"],
            "screen_overwrites": devices["screen_overwrites"],  # another client overwrote a screen
            "businesses": list(businesses.values()), "late": late[:30],
            "queue_alert": alert_at,
            "closing": hallday.closing_forecast(rt, hall),  # 闭厅预警: who the forecast leaves past `closes`
            # today so far (issued, served, waits, 弃号率, saturation) and who waits, for the actions
            "today": live.today_figures(eng, now),
            "waiting": live.waiting_list(eng, now, {b.code: b.name for b in hall.businesses}),
            "pause_reasons": list(hall.pause_reasons),
            "totals": {"waiting": sum(b["waiting"] for b in businesses.values()), "late": len(late),
                       "red": sum(1 for x in late if x["level"] == "red")}}


def _devices(adapter, now: float) -> dict:
    """Pads and screens as the supervisor must see them: one that went silent shows at once.
    Read from the pads and display adapters when the daemon runs them (duck-typed: no import)."""
    daemon = adapter.daemon
    pads, display = daemon.adapter("PadAdapter"), daemon.adapter("DisplayService")
    out: dict = {"pads": {}, "screens": [], "broker": None,
                 "screen_overwrites": {"count": 0, "last_topic": None, "last_at": None}}
    if pads is not None:
        out["pads"] = {w: "online" if pads.is_online(w) else "offline" for w in pads.bindings}
    if display is not None:
        out["screens"] = display.screens.listing(now, adapter.runtime.calendar.iso)
        out["broker"] = "online" if display.link.connected else "offline"
        out["screen_overwrites"] = display.overwrites()
    return out


class AdminPages:
    def __init__(self, adapter):
        self.a = adapter
        self.routes = [
            Route("/admin", self.hall_page, methods=["GET"]),
            Route("/admin/live", self.hall_live, methods=["GET"]),
            Route("/admin/login", self.login_page, methods=["GET"]),
            Route("/admin/login", self.login, methods=["POST"]),
            Route("/admin/logout", self.logout, methods=["POST"]),
            Route("/admin/reviews", self.reviews_page, methods=["GET"]),
            Route("/admin/followups", self.followups_page, methods=["GET"]),
            Route("/admin/followups/{case:u32}", self.followup_page, methods=["GET"]),
            Route("/admin/failed", self.failed_page, methods=["GET"]),
            Route("/results", self.results_page, methods=["GET"]),
        ]

    def render(self, request: Request, name: str, status: int = 200, **context) -> Response:
        cfg = self.a.config
        context.setdefault("hall_name", cfg.hall.name)
        context.setdefault("pct", charts.pct)
        return self.a.templates.TemplateResponse(request, name, context, status_code=status)

    async def _signed_in(self, request: Request):
        p = await self.a.sessions.resolve(request)
        if p is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return None, RedirectResponse(f"/admin/login?next={quote(target)}", status_code=303)
        return p, None

    # ---- sign-in --------------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self.render(request, "admin_login.html", next=_safe_next(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        form = await form_body(request)
        token = str(form.get("token") or "").strip()
        nxt = _safe_next(str(form.get("next") or ""))
        p = await request.app.state.tokens.principal(token) if token else None
        if p is None:
            return self.render(request, "admin_login.html", 401, next=nxt, error="令牌无效或已吊销，请核对后重试。")
        if p.role not in ROLES:
            return self.render(request, "admin_login.html", 403, next=nxt,
                               error=f"「{p.role}」角色的令牌不能登录管理后台，请使用督查员或管理员令牌。")
        resp = RedirectResponse(nxt, status_code=303)
        self.a.sessions.set_cookie(resp, request, await self.a.sessions.issue(token_hash(token)))
        return resp

    async def logout(self, request: Request) -> Response:
        await self.a.sessions.end(request)  # a copy of the cookie is refused from now on
        resp = RedirectResponse("/admin/login", status_code=303)
        self.a.sessions.clear_cookie(resp, request)
        return resp

    # ---- pages --------------------------------------------------------------------------------------

    async def hall_page(self, request: Request) -> Response:
        p, away = await self._signed_in(request)
        if away:
            return away
        return self.render(request, "admin_hall.html", user=p, tab="hall", live=live_hall(self.a))

    async def hall_live(self, request: Request) -> Response:
        """The live hall's panels alone, for the page's refresh: 401 (not a redirect) when signed out."""
        if await self.a.sessions.resolve(request) is None:
            return Response("请重新登录", status_code=401, media_type="text/plain; charset=utf-8")
        return self.render(request, "admin_hall_live.html", live=live_hall(self.a))

    def _range(self, request: Request, days: int = 30) -> tuple[str, str, str | None]:
        today = self.a.runtime.calendar.day(self.a.runtime.clock())
        from datetime import date, timedelta

        default_from = (date.fromisoformat(today) - timedelta(days=days - 1)).isoformat()
        try:
            a, b = stats.parse_days(request.query_params.get("from") or default_from,
                                    request.query_params.get("to"), today)
            return a, b, None
        except stats.RangeError as exc:
            return default_from, today, str(exc)

    async def reviews_page(self, request: Request) -> Response:
        p, away = await self._signed_in(request)
        if away:
            return away
        day_from, day_to, error = self._range(request)
        j, hall = self.a.runtime.journal, self.a.config.hall
        by_day = await stats.grouped(j, day_from, day_to, "day")
        windows = stats.ranked(await stats.grouped(j, day_from, day_to, "window"))
        clerks = stats.ranked(await stats.grouped(j, day_from, day_to, "clerk"))
        reasons = await stats.bad_reasons(j, day_from, day_to, hall.reasons)
        total = (await stats.grouped(j, day_from, day_to, "all") or [None])[0]
        await self.a.runtime.journal.append([])
        fu = (await _rates(self.a, day_from, day_to)) or None
        label_w = {w.id: w.label for w in hall.windows}
        return self.render(
            request, "admin_reviews.html", user=p, tab="reviews", day_from=day_from, day_to=day_to, error=error,
            total=total, followup_total=fu, windows=windows, clerks=clerks,
            day_chart=charts.rate_by_day(by_day, day_from, day_to),
            window_chart=charts.rate_bars(windows, lambda r: label_w.get(r["key"], r["key"])),
            clerk_chart=charts.rate_bars(clerks, lambda r: self.a.name_of(r["key"]) or r["key"]),
            reason_chart=charts.hbars([(r["reason"], r["count"], f'{r["count"]} 件') for r in reasons],
                                      color=charts.BAD),
            window_label=label_w, clerk_name=self.a.name_of)

    async def followups_page(self, request: Request) -> Response:
        p, away = await self._signed_in(request)
        if away:
            return away
        q = request.query_params
        state = q.get("state") if q.get("state") in f.STATE_TEXT else None
        overdue = True if q.get("overdue") == "true" else None
        window = q.get("window") if q.get("window") in self.a.config.hall.window_index else None
        items = await self.a.items(state=state, overdue=overdue, window=window)
        today = self.a.runtime.calendar.day(self.a.runtime.clock())
        rates = await _rates(self.a, today[:8] + "01", today)
        return self.render(request, "admin_followups.html", user=p, tab="followups", items=items, state=state,
                           overdue=overdue, window=window, states=f.STATE_TEXT, rates=rates,
                           windows=self.a.config.hall.windows, month_from=today[:8] + "01", today=today)

    async def followup_page(self, request: Request) -> Response:
        p, away = await self._signed_in(request)
        if away:
            return away
        try:
            item = await self.a.item(request.path_params["case"], p)
        except f.UnknownFollowup as exc:
            return self.render(request, "admin_followups.html", 404, user=p, tab="followups", items=[],
                               error=exc.message, states=f.STATE_TEXT, windows=self.a.config.hall.windows)
        return self.render(request, "admin_followup.html", user=p, tab="followups", item=item,
                           today=self.a.runtime.calendar.day(self.a.runtime.clock()))

    async def failed_page(self, request: Request) -> Response:
        """办不成事 台账: the cases finished 办不成, with the clerk's note; exports beside it."""
        p, away = await self._signed_in(request)
        if away:
            return away
        day_from, day_to, error = self._range(request)
        rows = await hallday.failed(self.a.runtime.journal, self.a.config.hall, day_from, day_to, self.a.runtime.iso)
        return self.render(request, "admin_failed.html", user=p, tab="failed", day_from=day_from, day_to=day_to,
                           error=error, rows=rows)

    async def results_page(self, request: Request) -> Response:
        """结果全公开: good rate by window and month; no names of clerks or citizens."""
        today = self.a.runtime.calendar.day(self.a.runtime.clock())
        month = request.query_params.get("month") or today[:7]
        if len(month) != 7 or not month[:4].isdigit() or month[4] != "-" or not month[5:].isdigit() \
                or not 1 <= int(month[5:]) <= 12:
            month = today[:7]
        if not (day_in_range(month + "-01") and month[:4] > FIRST_DAY[:4]):  # six months back must exist too
            return self.render(request, "results.html", 400, months=[], window_label={}, month=today[:7],
                               error=f"月份须在 {int(FIRST_DAY[:4]) + 1} 至 {LAST_DAY[:4]} 年之间（month out of range）")
        months = await stats.monthly_windows(self.a.runtime.journal, month, 6)
        label_w = {w.id: w.label for w in self.a.config.hall.windows}
        for m in months:
            m["chart"] = charts.rate_bars([r for r in m["rows"] if r["rank"]],
                                          lambda r: label_w.get(r["key"], r["key"]),
                                          marks={label_w.get(k, k) for k in m["last"]})
        await _public_followups(self.a, months)
        return self.render(request, "results.html", months=months, window_label=label_w, month=month)


async def _public_followups(adapter, months: list[dict]) -> None:
    """结果全公开 of the 差评 follow-up: 回访率 and 整改率 per window and month (`followup` of each
    month: {"total": row, "windows": [rows]}); an item removed by an upheld appeal counts in none."""
    from evaluator import followup_store as store

    if not months:
        return
    first, last = months[-1]["month"] + "-01", months[0]["month"] + "-31"
    now = adapter.runtime.clock()
    j = adapter.runtime.journal
    by_month = {r["key"]: r for r in await store.rates(j, first, last, "month", now)}
    windows: dict[str, list[dict]] = {}
    for r in await store.rates(j, first, last, "month_window", now):
        month, _, window = r["key"].partition("|")
        windows.setdefault(month, []).append({**r, "key": window})
    order = {w.id: i for i, w in enumerate(adapter.config.hall.windows)}
    for m in months:
        rows = sorted(windows.get(m["month"], []), key=lambda r: (order.get(r["key"], 1 << 30), r["key"]))
        m["followup"] = {"total": by_month.get(m["month"]), "windows": rows}


async def _rates(adapter, day_from: str, day_to: str) -> dict | None:
    from evaluator import followup_store as store

    rows = await store.rates(adapter.runtime.journal, day_from, day_to, "all", adapter.runtime.clock())
    return rows[0] if rows else None


def _safe_next(value: str | None) -> str:
    """Only a path of this site's /admin: never an open redirect."""
    if value and value.startswith("/admin") and "//" not in value and "\\" not in value:
        return value
    return "/admin"
