"""`queued central serve`: the pool, migrations, partitions, the app and uvicorn, started in order."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal

from central import db
from central.config import CentralConfig
from central.tokens import TokenBook

log = logging.getLogger("central")


async def build(cfg: CentralConfig):
    """The app and its pool (migrated, this month's and next month's partitions made)."""
    from central import pages, web

    pool = await db.connect_pool(cfg.database, cfg.pool_size)
    async with pool.acquire() as conn:
        applied = await db.migrate(conn)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        partitions = db.Partitions()
        today = dt.date.today()
        await partitions.ensure(conn, {today, db.next_month(today)})
    state = {"pool": pool, "partitions": partitions, "tokens": TokenBook(pool), "config": cfg}
    app = web.create_app(state, pages.routes())
    await pages.setup(app)
    return app, pool


async def serve(cfg: CentralConfig) -> None:
    import uvicorn

    app, pool = await build(cfg)
    server = uvicorn.Server(uvicorn.Config(app, host=cfg.http_host, port=cfg.http_port, log_level="warning",
                                           access_log=False, lifespan="off", http="httptools",
                                           timeout_graceful_shutdown=3, server_header=False))
    server.install_signal_handlers = lambda: None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    try:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done() and not server.started:
            await task
            raise SystemExit(f"central: cannot listen on {cfg.http_host}:{cfg.http_port}")
        print(f"central: {cfg.name} on http://{cfg.http_host}:{cfg.http_port}/  (city /city, public /results)",
              flush=True)
        await task
    finally:
        await pool.close()
