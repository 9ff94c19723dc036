"""Operations endpoints: health and metrics (public)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def healthz(request: Request) -> JSONResponse:
    rt = request.app.state.runtime
    checks = {"journal": rt.journal.healthy}
    checks.update({name: bool(check()) for name, check in rt.health_checks.items()})
    ok = all(checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks, "day": rt.engine.day, "hall": rt.config.hall.id}
    # Extension: facts that never make the daemon unhealthy (pads online/offline): adapters add
    # `name → fn() -> dict` to app.state.health_details.
    details = getattr(request.app.state, "health_details", None)
    if details:
        body["details"] = {name: fn() for name, fn in details.items()}
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
