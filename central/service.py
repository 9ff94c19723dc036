"""`queued central serve`: the pool, migrations, partitions, the app and uvicorn, started in order."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

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


HINT = "set [central] http (or QUEUED_CENTRAL_HTTP) to another HOST:PORT"


async def serve(cfg: CentralConfig) -> None:
    """As the hall daemon serves (queued/web/server.py): the socket bound before anything else (a
    taken port exits at once, naming the address), uvicorn with the per-request read deadline (408),
    errors logged once with a count."""
    from queued.web import server as http

    sock = http.bind(cfg.http_host, cfg.http_port, HINT)
    try:
        app, pool = await build(cfg)
    except BaseException:
        sock.close()
        raise
    try:
        server, task = await http.start_serving(app, sock, cfg.http_host, cfg.http_port, HINT)
        print(f"central: {cfg.name} on http://{cfg.http_host}:{cfg.http_port}/  (city /city, public /results)",
              flush=True)
        repeats = asyncio.create_task(http.report_repeats())
        await task
        repeats.cancel()
    finally:
        await pool.close()
