"""Prometheus metrics for operators. One registry per runtime, so tests can run several daemons.

Counters come from committed events (a listener), gauges are read from the engine when scraped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily

from queued.core import events as e

WAIT_BUCKETS = (30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600)
SERVICE_BUCKETS = (30, 60, 120, 300, 600, 900, 1200, 1800, 3600)
disable_created_metrics()  # the *_created series only add noise to a hall dashboard

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class HallCollector:
    """Gauges computed at scrape time from the in-memory hall."""

    def __init__(self, runtime):
        self.runtime = runtime

    def collect(self):
        eng = self.runtime.engine
        waiting = GaugeMetricFamily("queued_waiting", "Tickets waiting now, per business", labels=["business"])
        for code in eng.queues:
            waiting.add_metric([code], eng.waiting(code))
        yield waiting
        states = GaugeMetricFamily("queued_windows", "Windows per state", labels=["state"])
        counts = {s: 0 for s in ("closed", "idle", "calling", "serving", "paused")}
        for w in eng.windows.values():
            counts[w.state] += 1
        for state, n in counts.items():
            states.add_metric([state], n)
        yield states
        oldest = GaugeMetricFamily("queued_oldest_wait_seconds", "Longest current wait, per business",
                                   labels=["business"])
        now = self.runtime.clock()
        for code, q in eng.queues.items():
            heads = [t for t in (q.green.peek(), q.transfer.peek(), q.normal.peek()) if t is not None]
            oldest.add_metric([code], max((now - t.issued_at for t in heads), default=0.0))
        yield oldest
        sat = eng.saturation(now)
        busy = GaugeMetricFamily("queued_window_busy_seconds", "Handling time of today's finished cases, per window",
                                 labels=["window"])
        opened = GaugeMetricFamily("queued_window_open_seconds", "Time open today (idle, calling, serving), per window",
                                   labels=["window"])
        per_window = GaugeMetricFamily("queued_window_saturation", "Today's busy ÷ open time, per window",
                                       labels=["window"])
        for wid, v in sat["windows"].items():
            busy.add_metric([wid], v["busy_s"])
            opened.add_metric([wid], v["open_s"])
            if v["saturation"] is not None:
                per_window.add_metric([wid], v["saturation"])
        per_business = GaugeMetricFamily("queued_business_saturation",
                                         "Today's busy ÷ open time of the windows serving it, per business",
                                         labels=["business"])
        for code, v in sat["businesses"].items():
            if v["saturation"] is not None:
                per_business.add_metric([code], v["saturation"])
        yield busy
        yield opened
        yield per_window
        yield per_business
        up = GaugeMetricFamily("queued_uptime_seconds", "Seconds since the daemon started")
        up.add_metric([], max(0.0, now - self.runtime.started_at) if self.runtime.started_at else 0.0)
        yield up


class Metrics:
    def __init__(self, runtime):
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.issued = Counter("queued_tickets_issued", "Tickets issued", ["business", "channel"], registry=r)
        self.called = Counter("queued_tickets_called", "Tickets called (not recalls)", ["business"], registry=r)
        self.recalled = Counter("queued_tickets_recalled", "Recalls (重呼)", ["business"], registry=r)
        self.served = Counter("queued_tickets_served", "Cases finished", ["business"], registry=r)
        self.skipped = Counter("queued_tickets_skipped", "Tickets skipped (过号)", ["business"], registry=r)
        self.cancelled = Counter("queued_tickets_cancelled", "Tickets cancelled", ["reason"], registry=r)
        self.wait = Histogram("queued_wait_seconds", "Wait from issue to first call", ["business"],
                              buckets=WAIT_BUCKETS, registry=r)
        self.service = Histogram("queued_service_seconds", "Service time of finished cases", ["business"],
                                 buckets=SERVICE_BUCKETS, registry=r)
        self.http = Histogram("queued_http_request_duration_seconds", "HTTP request latency",
                              ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=r)
        self.commits = Counter("queued_journal_commits", "Journal group commits", registry=r)
        self.journal_events = Counter("queued_journal_events", "Events committed", registry=r)
        self.replay = Gauge("queued_replay_seconds", "Time the last start-up replay took", registry=r)
        self.replayed = Gauge("queued_replayed_events", "Events replayed at start-up", registry=r)
        r.register(HallCollector(runtime))
        self._runtime = runtime
        self._tickets: dict[str, str] = {}
        self._children: dict[tuple, object] = {}
        runtime.subscribe(self.on_events)

    def after_start(self) -> None:
        self.replay.set(self._runtime.replay_seconds)
        self.replayed.set(self._runtime.replayed)

    def _child(self, metric, *values):
        # labels() validates, takes a lock and builds a tuple on every call (~2.7 µs); a series'
        # child never changes, so each is looked up once (businesses, channels, reasons: a handful).
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def on_events(self, events: Sequence[e.Event]) -> None:
        eng = self._runtime.engine
        child = self._child
        self.commits.inc()
        self.journal_events.inc(len(events))
        for ev in events:
            kind = type(ev)
            if kind is e.TicketIssued:
                child(self.issued, ev.business, ev.channel).inc()
            elif kind is e.TicketCalled:
                t = eng.tickets.get(ev.ticket)
                business = t.business if t else "?"
                child(self.called, business).inc()
                if t is not None and t.first_called_at == ev.at and not ev.special:
                    child(self.wait, business).observe(max(0.0, ev.at - t.issued_at))
            elif kind is e.TicketRecalled:
                t = eng.tickets.get(ev.ticket)
                child(self.recalled, t.business if t else "?").inc()
            elif kind is e.TicketFinished:
                child(self.served, ev.business).inc()
                child(self.service, ev.business).observe(ev.service_s)
            elif kind is e.TicketSkipped:
                t = eng.tickets.get(ev.ticket)
                child(self.skipped, t.business if t else "?").inc()
            elif kind is e.TicketCancelled:
                child(self.cancelled, ev.reason).inc()


UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def label_values(route, **values):
    """Mark path parameters of `route` whose value names the operation (`action`): a value in the
    given set is written into the `route` label (`/api/v1/windows/{window}/call-next`); any other
    value keeps the placeholder, so a hostile value adds no series. Returns the route."""
    route.metric_values = {name: frozenset(allowed) for name, allowed in values.items()}
    return route


def route_label(scope) -> str:
    """The path template of the route that took the request (`/api/v1/windows/{window}/{action}`),
    read from the `route` the router puts in the scope; a Mount names its prefix (`/static/{path}`).
    A path no route matched is one label value, whatever it was: a scanner's paths add no series."""
    route = scope.get("route")
    values = getattr(route, "metric_values", None)
    params = scope.get("path_params") or {}
    key = tuple(v if (v := params.get(n)) in allowed else None for n, allowed in (values or {}).items())
    # Kept on the route itself (Starlette's routes are not hashable): routes × allowed values.
    cache = getattr(route, "_metric_labels", None)
    if cache is None:
        cache = {}
        try:
            route._metric_labels = cache
        except AttributeError:  # no route (a path nothing matched) or one that takes no attributes
            return _route_label(route, scope)
    label = cache.get(key)
    if label is None:
        label = cache[key] = _route_label(route, scope)
    return label


def _route_label(route, scope) -> str:
    template = getattr(route, "path_format", None)
    if not isinstance(template, str) or not template:
        return UNMATCHED
    values = getattr(route, "metric_values", None)
    if values:
        params = scope.get("path_params") or {}
        for name, allowed in values.items():
            if params.get(name) in allowed:
                template = template.replace("{" + name + "}", params[name])
    return template


class TimingMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead on the hot path): request latency by route template
    (`route` label: the path template, never the handler's name nor the raw path)."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple, object] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_label(scope)
            if not scope.get("path", "").startswith("/events"):  # long-lived streams are not latency
                method = scope["method"] if scope["method"] in METHODS else "other"
                key = (method, route, status[0])
                child = self._children.get(key)
                if child is None:  # labels() takes a lock and builds a tuple: do it once per series
                    child = self._children[key] = self.metrics.http.labels(key[0], key[1], str(key[2]))
                child.observe(time.perf_counter() - started)
