"""The provincial push in the daemon: `[province]` → one sender for its profile, the daily
reconciliation, metrics, and the /admin page and API (evaluator/province/routes.py).

Without `[province]` it only keeps `province_profiles` empty (so nothing is queued) and shows the
page saying so. With it, `start()` writes the profile into `province_profiles` before anything can
rate (the adapter runs before the pads), then starts the sender task.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from evaluator.province import (
    outbox,  # noqa: F401  (registers the tables and projections)
    reconcile,
)
from evaluator.province.events import ProvinceAttempted, ProvinceReconciled
from evaluator.province.settings import parse
from evaluator.province.transport import make_client

log = logging.getLogger("queued.province")
OPEN_STATES = ("pending", "retrying", "blocked_on_service", "rejected", "unpushable", "conflict")
WAKE_KINDS = frozenset({"rating_recorded", "second_rating_recorded", "rating_timed_out", "province_repushed"})
RECONCILE_DAYS = 31


class ProvinceAdapter:
    def __init__(self, daemon, crypto_inline: bool = False):
        from evaluator.province import routes

        self.daemon = daemon
        self.runtime = rt = daemon.runtime
        cfg = daemon.config
        self.settings = parse(cfg.sections.get("province"), cfg.hall.reasons)
        self.defaults = self.settings is not None and self.settings.has_default_code and cfg.unrated_default is not None
        self.sender = None
        self.client = None
        self.profile = None
        self.crypto_inline = crypto_inline
        self.reconcile_s = 3600.0  # how often the reconciliation runs (tests shorten it)
        self.figures_s = 5.0  # how often the metrics' counts are read
        self.alert = False
        self.alerts: list[dict] = []  # windows × days with a gap older than the retry cap
        self.figures: dict[str, int] = {}
        self.oldest_pending_at: float | None = None
        self._tasks: list[asyncio.Task] = []
        r = daemon.metrics.registry
        self.attempts_total = Counter("queued_province_attempts", "Requests to the provincial platform",
                                      ["profile", "step", "outcome"], registry=r)
        r.register(_Collector(self))
        self.routes = routes.make_routes(self)
        rt.subscribe(self._on_events)

    # ---- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        j = self.runtime.journal
        s = self.settings
        if s is None:
            await j.execute_write("DELETE FROM province_profiles")
            return
        offset = datetime.now(self.runtime.calendar.tz).utcoffset().total_seconds()
        await j.execute_write(
            "INSERT OR REPLACE INTO province_profiles (profile, has_default, two_step, hold_days, utc_offset)"
            " VALUES (?,?,?,?,?)",
            (s.profile, int(self.defaults), int(s.two_step), self.daemon.config.rating_window_days, offset))
        await j.execute_write("DELETE FROM province_profiles WHERE profile != ?", (s.profile,))
        self.client = make_client()  # each post() is bounded by timeout_s
        self.profile = self._make_profile()
        self.profile.dept_codes = dict(getattr(self.daemon.config, "dept_codes", {}) or {})
        from evaluator.province.sender import Sender

        self.sender = Sender(self.runtime, self.profile, s)
        self.sender.on_receipt = self._counted
        self.sender.start()
        self._tasks.append(asyncio.create_task(self._reconcile_loop(), name="province-reconcile"))
        self._tasks.append(asyncio.create_task(self._figures_loop(), name="province-figures"))
        log.info("province: pushing ratings to the %s platform", s.profile)

    def _make_profile(self):
        s, hall, tz, clock = self.settings, self.daemon.config.hall, self.runtime.calendar.tz, self.runtime.clock
        if s.profile == "zhejiang":
            from evaluator.province.zhejiang import Zhejiang

            return Zhejiang(s, hall, tz, self.client, clock)
        from evaluator.province.shandong import Shandong
        from evaluator.province.sm2 import Sm2Worker

        return Shandong(s, hall, tz, self.client, clock, Sm2Worker(s.public_key, s.sm2_mode, self.crypto_inline))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        if self.sender is not None:
            await self.sender.stop()
        if self.profile is not None and hasattr(self.profile, "close"):
            self.profile.close()
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    # ---- events --------------------------------------------------------------------------------

    def _on_events(self, events) -> None:
        if self.sender is None:
            return
        for x in events:
            if x.kind in WAKE_KINDS:
                self.sender.wake()
                return

    def _counted(self, receipt: ProvinceAttempted) -> None:
        self.attempts_total.labels(receipt.profile, receipt.step, receipt.outcome).inc()

    # ---- reconciliation and figures --------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("province reconciliation failed")
            await asyncio.sleep(self.reconcile_s)

    async def _figures_loop(self) -> None:
        while True:
            await asyncio.sleep(self.figures_s)
            try:
                await self.refresh()
            except Exception:
                log.debug("province figures not read", exc_info=True)

    async def reconcile(self, days: int = RECONCILE_DAYS) -> list[dict]:
        """Reconcile the last `days` hall days; journal the days whose figures changed; set the alert."""
        rt, s = self.runtime, self.settings
        now = rt.clock()
        today = date.fromisoformat(rt.calendar.day(now))
        alerts = []
        for back in range(days - 1, -1, -1):
            day = (today - timedelta(days=back)).isoformat()
            fresh = await reconcile.reconcile_day(rt.journal, day, s.profile, self.defaults, now, s.retry_max_s)
            alerts += [dict(w, day=day) for w in fresh if w["alert"]]
            if fresh and fresh != await reconcile.stored_figures(rt.journal, day, s.profile):
                await rt.record([ProvinceReconciled(now, day, s.profile, fresh, any(w["alert"] for w in fresh))])
        if alerts and not self.alert:
            log.warning("province %s: %d window-days have ratings undelivered past the retry cap (%g s)",
                        s.profile, len(alerts), s.retry_max_s)
        self.alert, self.alerts = bool(alerts), alerts
        await self.refresh()
        return alerts

    async def refresh(self) -> dict[str, int]:
        """Counts of the open states (index range scans; delivered rows are never counted here)."""
        if self.settings is None:
            return {}
        j, p = self.runtime.journal, self.settings.profile
        figures = {}
        oldest = None
        for state in OPEN_STATES:
            row = await j.fetchone("SELECT COUNT(*) AS n, MIN(rated_at) AS t FROM province_outbox"
                                   " WHERE profile = ? AND state = ?", (p, state))
            figures[state] = row["n"]
            if state in ("pending", "retrying", "blocked_on_service") and row["t"] is not None:
                oldest = row["t"] if oldest is None else min(oldest, row["t"])
        self.figures, self.oldest_pending_at = figures, oldest
        return figures


class _Collector:
    """Gauges at scrape time, from the figures the adapter last read (never a query per scrape)."""

    def __init__(self, adapter: ProvinceAdapter):
        self.a = adapter

    def collect(self):
        a = self.a
        if a.settings is None:
            return
        p = a.settings.profile
        records = GaugeMetricFamily("queued_province_records", "Outbox records not delivered, per state",
                                    labels=["profile", "state"])
        for state in OPEN_STATES:
            records.add_metric([p, state], a.figures.get(state, 0))
        yield records
        oldest = GaugeMetricFamily("queued_province_oldest_pending_seconds",
                                   "Age of the oldest rating still on its way to the platform", labels=["profile"])
        oldest.add_metric([p], max(0.0, a.runtime.clock() - a.oldest_pending_at) if a.oldest_pending_at else 0.0)
        yield oldest
        alert = GaugeMetricFamily("queued_province_gap_alert",
                                  "1 when a rating is undelivered past the retry cap (reconciliation)",
                                  labels=["profile"])
        alert.add_metric([p], 1.0 if a.alert else 0.0)
        yield alert
