"""The composition root: runtime, metrics, adapters (screens, pads, ratings, channels) and the web
server, started and stopped in order. Only this module knows every adapter; the core knows none."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from importlib import import_module

from queued.config import Config
from queued.errors import JournalError
from queued.metrics import Metrics
from queued.runtime import Runtime
from queued.web.app import create_app

log = logging.getLogger("queued")

# Adapters, as "module:Class". Each takes the Daemon, may expose `routes`, and has async start/stop.
# Order matters: the broker before the screens that publish to it, the evaluator before the pads.
ADAPTERS: list[str] = [
    "queued.broker:EmbeddedBroker",
    "display.service:DisplayService",
    "evaluator.service:EvaluatorAdapter",
    "evaluator.admin:AdminAdapter",
    "evaluator.province.service:ProvinceAdapter",
    "evaluator.recheck_service:RecheckAdapter",  # after the rating book and the follow-ups it reads
    "queued.simulate.admin:PlannerPage",
    "queued.pads:PadAdapter",
    "queued.clerk.clerk:ClerkConsole",
    "queued.channels.appointments_api:Appointments",
    "queued.channels.printing:TicketPrinter",
    "queued.channels.kiosk:Kiosk",
    "queued.channels.mobile:WeChatMobile",
    "queued.central_link:CentralShipper",  # last: ships what the others journal ([central] url)
]


class Daemon:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time, adapters: list[str] | None = None):
        self.config = config
        self.runtime = Runtime(config, clock)
        self.metrics = Metrics(self.runtime)
        self.adapters = []
        for path in ADAPTERS if adapters is None else adapters:
            module, _, name = path.partition(":")
            self.adapters.append(getattr(import_module(module), name)(self))
        routes = [r for a in self.adapters for r in getattr(a, "routes", ())]
        self.app = create_app(self.runtime, self.metrics, routes)
        self.app.state.daemon = self
        self._started: list = []

    def adapter(self, cls_name: str):
        for a in self.adapters:
            if type(a).__name__ == cls_name:
                return a
        return None

    async def start(self) -> None:
        await self.runtime.start()
        self.metrics.after_start()
        try:
            await self.app.state.sessions.start()  # before the adapters whose pages resolve sessions
            for a in self.adapters:
                await a.start()
                self._started.append(a)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        while self._started:
            a = self._started.pop()
            try:
                await a.stop()
            except Exception:
                log.exception("stopping %s failed", type(a).__name__)
        await self.runtime.stop()

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        from queued.web import server as http

        cfg = self.config
        # Bound before anything starts: a taken port ends the start here, naming the address.
        sock = http.bind(cfg.http_host, cfg.http_port)
        try:
            await self.start()
        except BaseException:
            sock.close()
            raise
        self.metrics.registry.register(http.ServerCollector())
        # The hall's state is long-lived and acyclic; a full collection over it stalls the loop for
        # tens of ms under load. Freeze what start-up built and collect young objects less often.
        import gc
        import sys

        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        # A worker thread holding the GIL (the journal's reader turning rows into objects, the
        # shipper's read) keeps the loop waiting until it blocks or the switch interval ends: 5 ms
        # by default, which showed in the issue p99 while a batch was read.
        sys.setswitchinterval(0.001)
        try:
            server, task = await http.start_serving(self.app, sock, cfg.http_host, cfg.http_port,
                                                    trusted_proxies=cfg.trusted_proxies)
            log.info("queued serving %s (%s) on http://%s:%d", cfg.hall.name, cfg.source, cfg.http_host, cfg.http_port)
            print(f"queued: {cfg.hall.name} on http://{cfg.http_host}:{cfg.http_port}/  "
                  f"(kiosk /kiosk, screen /screen, clerk /clerk, admin /admin)", flush=True)
            if ready:
                ready()
            watchdog = asyncio.create_task(self._fail_stop(server))
            repeats = asyncio.create_task(http.report_repeats())
            await task
            watchdog.cancel()
            repeats.cancel()
        finally:
            await self.stop()
        if self.runtime.journal.failed is not None:
            raise JournalError(f"the journal failed and the daemon stopped: {self.runtime.journal.failed}; "
                               f"restart it (systemd/Docker do) and it replays the journal")

    async def _fail_stop(self, server) -> None:
        """When the journal cannot be written, memory is ahead of disk: stop (non-zero exit) so the
        service manager restarts the daemon and replay rebuilds the state the disk holds."""
        while self.runtime.journal.failed is None:
            await asyncio.sleep(0.2)
        log.critical("journal failed (%s): stopping so that a restart replays a consistent state",
                     self.runtime.journal.failed)
        await asyncio.sleep(0.5)  # let the 503s already decided go out
        server.should_exit = True
