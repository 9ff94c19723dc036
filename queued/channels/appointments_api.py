"""分时段预约 over HTTP, and the adapter that puts the booking book into the runtime.

Routes (extension of the HTTP API; see the module docs of each handler):
  GET    /api/v1/appointments/slots?business=A&day=YYYY-MM-DD   (public) seats left per slot
  POST   /api/v1/appointments                  kiosk/admin token or WeChat session: book
  GET    /api/v1/appointments                  WeChat session: my bookings; staff: ?day= all
  GET    /api/v1/appointments/{id}             (public: the id is the holder's key)
  DELETE /api/v1/appointments/{id}             holder (session or body openid) or admin
  POST   /api/v1/appointments/{id}/check-in    desk/admin token (`check_in`) or the holder's WeChat session
  POST   /api/v1/appointments/check-in         body {"code": "123456"}: a desk/admin token, or a kiosk
                                               token (the citizen types the code: the code is the
                                               holder's proof, like the booking id in a session)
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from queued.channels.appointments import (
    AppointmentBook,
    AppointmentError,
    BookAppointment,
    Booking,
    CancelAppointment,
    CodeTaken,
)
from queued.channels.appointments_noshows import NoShowRecorder
from queued.channels.appointments_slots import hhmm, parse_day, parse_hhmm
from queued.channels.appointments_store import bookings_of_day  # importing it registers the projection
from queued.runtime import new_rating_key, new_ticket_id
from queued.web.errors import ApiError
from queued.web.inputs import ID_MAX, field, json_body, no_unknown, principal
from queued.web.rate_limit import client_address


def _api(exc: AppointmentError) -> ApiError:
    return ApiError(exc.code, exc.message, exc.status)


class Appointments:
    """Adapter: the booking book, its routes, and the end-of-day no-shows."""

    def __init__(self, daemon):
        self.runtime = rt = daemon.runtime
        cfg = daemon.config
        self.book = AppointmentBook(cfg.hall, rt.calendar, cfg.sections["appointments"], cfg.hall.days)
        rt.add_component(self.book)
        self.day_end = NoShowRecorder(rt)
        self.daemon = daemon
        base = "/api/v1/appointments"
        self.routes = [
            Route(f"{base}/slots", self.get_slots, methods=["GET"]),
            Route(f"{base}/check-in", self.check_in_by_code, methods=["POST"]),
            Route(base, self.create, methods=["POST"]),
            Route(base, self.list_bookings, methods=["GET"]),
            Route(f"{base}/{{booking_id}}", self.get_one, methods=["GET"]),
            Route(f"{base}/{{booking_id}}", self.cancel, methods=["DELETE"]),
            Route(f"{base}/{{booking_id}}/check-in", self.check_in_by_id, methods=["POST"]),
        ]

    async def start(self) -> None:
        self.daemon.app.state.appointments = self
        await self.day_end.start()

    async def stop(self) -> None:
        await self.day_end.stop()

    # ---- helpers shared with the kiosk ------------------------------------------------------------

    def booking_json(self, b: Booking, with_openid: bool = False) -> dict[str, Any]:
        view = self.book.view(b)
        if not with_openid:
            del view["openid"]
        for key in ("starts_at", "ends_at", "cancel_before", "booked_at"):
            view[key] = self.runtime.iso(view[key])
        return view

    async def book_slot(self, business: str, day: str, start: int, openid: str) -> Booking:
        rt = self.runtime
        for _ in range(20):  # a random 6-digit code rarely collides with the day's others
            cmd = BookAppointment(secrets.token_urlsafe(9), f"{secrets.randbelow(10**6):06d}", business, day,
                                  start, openid)
            try:
                await rt.execute(cmd)
            except CodeTaken:
                continue
            except AppointmentError as exc:
                raise _api(exc) from None
            return self.book.bookings[cmd.booking_id]
        raise ApiError("unavailable", "预约码已用尽，请稍后再试（no free check-in code）", 503)

    async def check_in(self, b: Booking, channel: str, openid: str | None, staff: bool) -> dict[str, Any]:
        """Turn a booking into a ticket in the appointment lane, due at the slot's start."""
        rt = self.runtime
        now = rt.clock()
        try:
            cmd = self.book.check_in(b, now, new_ticket_id(), channel, openid, staff, new_rating_key())
        except AppointmentError as exc:
            raise _api(exc) from None
        # No await between the check above and the decision inside execute(): no double check-in.
        _, view = await rt.execute(cmd, lambda evs: rt.ticket_json(cmd.ticket_id, estimate=False))
        rt.add_estimate(view)  # after the commit, as the issue reply
        view["appointment_slot"] = f"{hhmm(b.start)}-{hhmm(b.end)}"
        view["rating_key"] = cmd.rating_key  # the check-in reply is the holder's ticket (http-api.md 1.1)
        return view

    def find(self, booking_id: str) -> Booking:
        try:
            return self.book.booking(booking_id)
        except AppointmentError as exc:
            raise _api(exc) from None

    async def _caller(self, request: Request):
        """(principal, WeChat openid): a token's principal, else the mobile page's session openid."""
        p = await principal(request)
        if p is not None:
            return p, None
        return None, await request.app.state.mobile_session(request)

    # ---- routes ----------------------------------------------------------------------------------

    async def get_slots(self, request: Request) -> JSONResponse:
        q = request.query_params
        business = q.get("business", "").strip().upper()
        if not business:
            raise ApiError("invalid_request", "缺少参数 business（missing query parameter 'business'）")
        now = self.runtime.clock()
        days = self.book.days(now)
        day = q.get("day") or (days[0] if days else self.runtime.calendar.day(now))
        if parse_day(day) is None:
            raise ApiError("invalid_request", f"日期应为 YYYY-MM-DD（bad day {day!r}）")
        try:
            slots = self.book.slot_table(business, day, now)
        except AppointmentError as exc:
            raise _api(exc) from None
        for s in slots:
            s["starts_at"] = self.runtime.iso(s["starts_at"])
        b = self.runtime.config.hall.business_index[business]
        return JSONResponse({
            "business": business, "business_name": b.name, "day": day, "days": days,
            "bookable": day in days, "slot_minutes": self.book.slot_minutes, "capacity": self.book.capacity,
            "cancel_before_minutes": int(self.book.cancel_before_s // 60), "slots": slots,
        })

    async def create(self, request: Request) -> JSONResponse:
        p, session = await self._caller(request)
        if p is None and session is None:
            raise ApiError("unauthorized", "需要取号机令牌或微信登录（kiosk token or WeChat session required）")
        if p is not None and not p.can("issue"):
            raise ApiError("forbidden", f"角色 {p.role} 不能预约（role {p.role!r} may not book）")
        if p is None:  # a citizen's WeChat session: per session and per address (staff tokens are not limited)
            request.app.state.rate_limits.take("book", client_address(request), session)
        data = await json_body(request)
        no_unknown(data, "business", "day", "slot", "start", "openid")
        business = field(data, "business", str)
        day = field(data, "day", str)
        start_text = field(data, "start", str, None) or field(data, "slot", str, None)
        if start_text is None:
            raise ApiError("invalid_request", "缺少字段 start（missing field 'start', e.g. \"09:30\"）")
        openid = field(data, "openid", str, None, max_len=ID_MAX)
        if session is not None:
            if openid is not None and openid != session:
                raise ApiError("forbidden", "openid 与微信登录不符（openid does not match the WeChat session）")
            openid = session
        if not openid:
            raise ApiError("invalid_request", "缺少字段 openid（missing field 'openid'）")
        if parse_day(day) is None:
            raise ApiError("invalid_request", f"字段 day 应为 YYYY-MM-DD（bad day {day!r}）")
        start = parse_hhmm(start_text.split("-")[0].strip())
        if start is None:
            raise ApiError("invalid_request", f"字段 start 应为 HH:MM（bad start {start_text!r}）")
        b = await self.book_slot(business.strip().upper(), day, start, openid)
        return JSONResponse(self.booking_json(b, with_openid=True), status_code=201,
                            headers={"Location": f"/api/v1/appointments/{b.id}"})

    async def list_bookings(self, request: Request) -> JSONResponse:
        p, session = await self._caller(request)
        today = self.runtime.calendar.day(self.runtime.clock())
        if session is not None:
            own = (self.book.bookings[bid] for bid in self.book.by_openid.get(session, ()))
            mine = [b for b in own if b.day >= today]
            mine.sort(key=lambda b: (b.day, b.start))
            return JSONResponse({"appointments": [self.booking_json(b, True) for b in mine]})
        if p is None:
            raise ApiError("unauthorized", "需要微信登录或管理令牌（WeChat session or staff token required）")
        if not (p.can("read_hall") or p.can("issue")):
            raise ApiError("forbidden", f"角色 {p.role} 无此权限（role {p.role!r} may not list bookings）")
        day = request.query_params.get("day") or today
        if parse_day(day) is None:
            raise ApiError("invalid_request", f"日期应为 YYYY-MM-DD（bad day {day!r}）")
        staff = p.can("admin") or p.can("reports")  # supervisors see who booked; clerks only the slots
        out = []
        for stored in await bookings_of_day(self.runtime.journal, day):
            b = self.book.bookings.get(stored.id, stored)  # memory has the status of the last milliseconds
            out.append(self.booking_json(b, with_openid=staff))
        return JSONResponse({"day": day, "appointments": out})

    async def get_one(self, request: Request) -> JSONResponse:
        return JSONResponse(self.booking_json(self.find(request.path_params["booking_id"])))

    async def cancel(self, request: Request) -> JSONResponse:
        b = self.find(request.path_params["booking_id"])
        data = await json_body(request, allow_empty=True)
        no_unknown(data, "openid")
        openid = field(data, "openid", str, None, max_len=ID_MAX)
        p, session = await self._caller(request)
        staff = p is not None and p.can("admin")
        if session is not None:
            openid = session
        try:
            await self.runtime.execute(CancelAppointment(b.id, openid, staff))
        except AppointmentError as exc:
            raise _api(exc) from None
        return JSONResponse(self.booking_json(b))

    async def check_in_by_id(self, request: Request) -> JSONResponse:
        b = self.find(request.path_params["booking_id"])
        p, session = await self._caller(request)
        if p is not None:
            if not p.can("check_in"):  # the guide desk (导办台) or admin; a kiosk checks in by code
                raise ApiError("forbidden", f"角色 {p.role} 不能签到（role {p.role!r} may not check in）")
            view = await self.check_in(b, "desk" if p.role == "desk" else "kiosk", None, staff=True)
        elif session is not None:
            view = await self.check_in(b, "wechat", session, staff=False)
        else:
            raise ApiError("unauthorized", "需要取号机令牌或微信登录（kiosk token or WeChat session required）")
        return JSONResponse(view, status_code=201, headers={"Location": f"/api/v1/tickets/{view['id']}"})

    async def check_in_by_code(self, request: Request) -> JSONResponse:
        p = await principal(request)
        if p is None:
            raise ApiError("unauthorized", "需要取号机令牌（kiosk token required）")
        if not (p.can("check_in") or p.role == "kiosk"):
            raise ApiError("forbidden", f"角色 {p.role} 不能签到（role {p.role!r} may not check in）")
        data = await json_body(request)
        no_unknown(data, "code")
        code = field(data, "code", str)
        view = await self.check_in(self.by_code(code), "kiosk", None, staff=True)
        return JSONResponse(view, status_code=201, headers={"Location": f"/api/v1/tickets/{view['id']}"})

    def by_code(self, code: str) -> Booking:
        today = self.runtime.calendar.day(self.runtime.clock())
        try:
            return self.book.by_code(today, code)
        except AppointmentError as exc:
            raise _api(exc) from None
