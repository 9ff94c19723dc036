"""The Starlette application: routes of the API, operations and the pages adapters add."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.templating import Jinja2Templates

from queued.auth import TokenBook
from queued.metrics import Metrics, TimingMiddleware
from queued.pins import PinBook
from queued.sessions import SessionStore
from queued.web import api_cases, api_tickets, api_windows, openapi, ops, static_files
from queued.web.edge import Edge
from queued.web.errors import HANDLERS
from queued.web.rate_limit import RateLimitCollector, RateLimits, limit_settings
from queued.web.same_origin import SameOrigin

TEMPLATES = Path(__file__).parent / "templates"


class U32Convertor(Convertor):
    """`{case:u32}`: a case number as the pads carry it (u32). Starlette's `int` takes any length,
    which SQLite cannot hold; a longer number simply matches no route (404)."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("u32", U32Convertor())


async def _no_mobile_session(request: Request) -> str | None:
    return None


def make_templates(*extra_dirs: Path) -> Jinja2Templates:
    return Jinja2Templates(directory=[TEMPLATES, *extra_dirs])


def create_app(runtime, metrics: Metrics, routes: Sequence[BaseRoute] = (), lifespan=None) -> Any:
    from queued.web import home

    app = Starlette(
        routes=[*api_tickets.routes, *api_cases.routes, *api_windows.routes, *ops.routes, *openapi.routes,
                *static_files.routes, *home.routes,
                *routes],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.tokens = TokenBook(runtime.journal)
    cfg = runtime.config
    app.state.pins = PinBook(runtime.journal, cfg.clerk_pin_hashes, cfg.hall.clerk_index)  # queued.pins
    app.state.rate_limits = RateLimits(limit_settings(cfg), runtime.clock)  # citizens' issue, booking, sign-in
    metrics.registry.register(RateLimitCollector(app.state.rate_limits))
    app.state.sessions = SessionStore(runtime.journal, cfg.database, runtime.clock)  # started by the Daemon
    # Adapters replace these: the WeChat session of /m, and look-ups of earlier days' tickets.
    app.state.session_resolvers = []  # cookie sign-ins of /admin, /clerk, /kiosk: see inputs.principal
    app.state.mobile_session: Callable[[Request], Awaitable[str | None]] = _no_mobile_session

    async def history_ticket(ticket_id: str) -> dict | None:
        row = await runtime.journal.fetchone(
            "SELECT id, number, business, status, window, priority, channel, issued_at, called_at, finished_at,"
            " cancel_reason, serial FROM tickets WHERE id=?", (ticket_id,))
        if row is None:
            return None
        out = {k: row[k] for k in row.keys() if k != "serial"}
        out.update(position=None, eta_seconds=None)
        if out["status"] == "done":
            out["case"] = row["serial"]
        return runtime.isoize(out)

    app.state.history_ticket = history_ticket
    # Body limit, text rule and cross-site refusal for every route, in one layer (queued/web/edge.py).
    app.add_middleware(Edge, same_origin=SameOrigin(public_url=cfg.public_url))
    app.add_middleware(TimingMiddleware, metrics=metrics)
    return app
