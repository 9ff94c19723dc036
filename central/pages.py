"""The central service's pages (zh-CN): `/city` for the municipal supervisors (every hall on one
page, with when each last shipped), `/results` for the public (the city's 结果全公开).

Sign-in: a supervisor token typed once at /city/login becomes a session (a row in `sessions`, named
by a signed cookie), so any instance recognises it and signing out ends it everywhere. Forms that
change state accept only same-origin requests: queued/web/same_origin.py decides, for the whole app
(central/web.py), before these handlers run.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from central import ranking, reports
from central.tokens import Principal, token_hash
from queued.web.signed import SignedValues

COOKIE = "qc_city"
SESSION_S = 12 * 3600
STATIC = Path(__file__).resolve().parent.parent / "queued" / "web" / "static"
_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape())


def pct(x) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def minutes(s) -> str:
    return "—" if s is None else f"{s / 60:.1f}"


_env.globals.update(pct=pct, minutes=minutes)


def render(name: str, status: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**ctx), status_code=status)


async def setup(app) -> None:
    """The session secret is kept in `settings` (shared by every instance)."""
    pool = app.state.pool
    await pool.execute("INSERT INTO settings (key, value) VALUES ('session_secret', $1) ON CONFLICT DO NOTHING",
                       secrets.token_hex(32))
    secret = bytes.fromhex(await pool.fetchval("SELECT value FROM settings WHERE key = 'session_secret'"))
    app.state.signer = SignedValues(secret)

    async def session(request: Request) -> Principal | None:
        data = app.state.signer.load(request.cookies.get(COOKIE), time.time())
        if not data or not isinstance(data.get("s"), str):
            return None
        row = await pool.fetchrow(
            "SELECT t.role FROM sessions s JOIN tokens t ON t.hash = s.token_hash WHERE s.id = $1"
            " AND s.ended_at IS NULL AND s.expires_at > now() AND t.revoked_at IS NULL", data["s"])
        return Principal(row["role"]) if row is not None and row["role"] == "supervisor" else None

    app.state.session = session


def _today(request: Request) -> str:
    return dt.datetime.now(ZoneInfo(request.app.state.config.timezone)).date().isoformat()


async def login_page(request: Request) -> Response:
    return render("city_login.html", city=request.app.state.config.name, error="")


async def login(request: Request) -> Response:
    city = request.app.state.config.name
    form = await request.form()
    token = str(form.get("token") or "").strip()
    p = await request.app.state.tokens.principal(token) if 0 < len(token) <= 200 else None
    if p is None or p.role != "supervisor":
        return render("city_login.html", 401, city=city, error="令牌无效，或不是市级监管令牌")
    sid = secrets.token_urlsafe(24)
    await request.app.state.pool.execute(
        "INSERT INTO sessions (id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
        sid, token_hash(token), float(SESSION_S))
    resp = RedirectResponse("/city", status_code=303)
    resp.set_cookie(COOKIE, request.app.state.signer.dump({"s": sid}, time.time() + SESSION_S), max_age=SESSION_S,
                    httponly=True, samesite="strict", path="/")
    return resp


async def logout(request: Request) -> Response:
    data = request.app.state.signer.load(request.cookies.get(COOKIE), time.time())
    if data and isinstance(data.get("s"), str):
        await request.app.state.pool.execute("UPDATE sessions SET ended_at = now() WHERE id = $1", data["s"])
    resp = RedirectResponse("/city/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


async def city_page(request: Request) -> Response:
    session = await request.app.state.session(request)
    if session is None:
        return RedirectResponse("/city/login", status_code=303)
    from central.web import halls_json

    st = request.app.state
    today = _today(request)
    month = today[:7]
    month_start = month + "-01"
    halls = await halls_json(st.pool)
    queues = {r["hall"]: r for r in await reports.queues(st.pool, today, today, "hall")}
    reviews, _, _ = await reports.reviews(st.pool, month_start, today, "hall")
    reviews = {r["hall"]: r for r in reviews}
    followups = await ranking.followups(st.pool, time.time(), limit=20)
    overdue_by_hall = await ranking.overdue_by_hall(st.pool, time.time())
    windows = (await ranking.monthly(st.pool, month, "window", 2))[0]
    return render("city.html", city=st.config.name, today=today, month=month, halls=halls, queues=queues,
                  reviews=reviews, followups=followups, overdue_by_hall=overdue_by_hall, windows=windows,
                  month_start=month_start)


async def results_page(request: Request) -> Response:
    st = request.app.state
    today = _today(request)
    month = today[:7]
    q = request.query_params.get("month")
    if q and len(q) == 7 and q[:4].isdigit() and q[4] == "-" and q[5:].isdigit() and 1 <= int(q[5:]) <= 12:
        month = q
    halls = await ranking.monthly(st.pool, month, "hall", 2)
    windows = await ranking.monthly(st.pool, month, "window", 2)
    return render("city_results.html", city=st.config.name, halls=halls, windows=windows, month=month)


async def home(request: Request) -> Response:
    return render("city_home.html", city=request.app.state.config.name)


def routes() -> list:
    return [
        Route("/", home, methods=["GET"]),
        Route("/city", city_page, methods=["GET"]),
        Route("/city/login", login_page, methods=["GET"]),
        Route("/city/login", login, methods=["POST"]),
        Route("/city/logout", logout, methods=["POST"]),
        Route("/results", results_page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
