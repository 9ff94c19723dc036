"""Ships the hall's committed events to the central service (`[central] url`).

The journal's `events` table is already a durable, ordered log (INTEGER seq), so the shipper reads
`seq > cursor` from it and keeps the acknowledged cursor in `meta` (`central_cursor`). It hears
commits only to wake up: the listener counts and sets an asyncio.Event, nothing more, so a
command's decision and commit do no extra work (the hot path is unchanged).

Delivery: a batch is `POST /api/v1/ingest` with the hall's token; the central service stores
events idempotently by (hall, seq) and answers with the last seq it holds. So:
- a network or central outage only makes the hall fall behind; the journal keeps everything and
  the shipper retries with a growing pause (1 s doubling to `retry_max_s`);
- a batch resent after a lost reply, or after a `kill -9` before the cursor reached disk, is
  recognised as duplicates and stored once;
- if the central store holds less than the hall's cursor (restored from an older backup), it says
  so (409 `cursor_ahead` with its `last_seq`) and the shipper rewinds to it.
The cursor is written at most once a second (and when caught up or stopping): a stale cursor only
means resending a batch the central service will recognise.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from queued.central_link.redact import DATA_SQL
from queued.http11 import Http11Client, HttpError

log = logging.getLogger("queued.central")

CURSOR_KEY = "central_cursor"
# After a wake-up, let the hall's commits gather into one batch: each batch costs the hall's loop
# a read, a body and a request, and the central service an insert. At 0.1 s a clerk calling one
# case after another meant ten batches a second and call→LED +50% (bench_led.py --central).
LINGER_S = 0.5
IDLE_POLL_S = 30.0  # a wake-up is never missed for long even if a listener call was lost

# A batch is one row: its events already as the JSON the central service takes, joined by SQLite on
# the journal's reader thread. sqlite3 lets go of the GIL while SQLite works and holds it to turn
# each result row into Python objects: 500 rows of five columns held it long enough to delay the
# hall's loop by milliseconds (issue p99 +15..41% with [central], bench_cpu.py --pin); one row does
# not. `at` is printed with 17 significant digits, which reads back as the same double (SQLite's own
# text for a REAL keeps 15). Order: group_concat reads the ordered, limited subquery in its order.
BATCH_SQL = f"""
SELECT count(*), max(seq), (SELECT at FROM events WHERE seq > ?1 ORDER BY seq LIMIT 1),
       CAST(group_concat(event, ',') AS BLOB)
FROM (SELECT seq, '{{"seq":' || seq || ',"day":' || json_quote(day) || ',"at":' || printf('%!.17g', at)
             || ',"kind":' || json_quote(kind) || ',"data":' || ({DATA_SQL}) || '}}' AS event
      FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2)
"""


@dataclass(frozen=True, slots=True)
class Batch:
    count: int
    last_seq: int
    first_at: float
    events: bytes  # the events' JSON objects joined by commas, UTF-8


class CentralShipper:
    """Adapter (queued.daemon.ADAPTERS). Does nothing unless `[central] url` is set."""

    def __init__(self, daemon):
        self.runtime = daemon.runtime
        self.daemon = daemon
        cfg = daemon.config.sections.get("central") or {}
        self.url = cfg.get("url", "")
        self.token = cfg.get("token", "")
        self.batch_size = int(cfg.get("batch_size", 500))
        self.timeout_s = float(cfg.get("timeout_s", 15))
        self.retry_max_s = float(cfg.get("retry_max_s", 60))
        self.enabled = bool(self.url)
        self.routes = ()
        self.cursor = 0
        self.head = 0  # the journal's last seq as far as this shipper knows (for "events behind")
        self.pending_since: float | None = None  # `at` of the oldest event not yet acknowledged
        self.state = "off" if not self.enabled else "starting"
        self.last_ok_at: float | None = None
        self.last_error = ""
        self.shipped = 0
        self.failures = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._client: Http11Client | None = None
        self._saved_cursor = 0
        self._saved_at = 0.0
        self._profile_sent = False
        if self.enabled:
            daemon.metrics.registry.register(_ShipperCollector(self))

    # ---- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.enabled:
            return
        self.runtime.subscribe(self._on_commit)
        journal = self.runtime.journal
        row = await journal.fetchone("SELECT value FROM meta WHERE key=?", (CURSOR_KEY,))
        self.cursor = self._saved_cursor = int(row["value"]) if row and str(row["value"]).isdigit() else 0
        row = await journal.fetchone("SELECT COALESCE(MAX(seq), 0) AS s FROM events")
        self.head = max(self.head, int(row["s"]))
        details = getattr(self.daemon.app.state, "health_details", None)
        if details is None:
            details = self.daemon.app.state.health_details = {}
        details["central"] = self.status
        self._client = Http11Client("queued-shipper", {
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
            "Content-Encoding": "gzip"})
        self._task = asyncio.create_task(self._run(), name="central-shipper")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        try:
            await self._save_cursor(force=True)
        except Exception as exc:  # the journal may be gone (fail-stop); the next start resends
            log.info("central cursor not saved at stop: %s", exc)
        if self._client is not None:
            await self._client.aclose()

    def _on_commit(self, events) -> None:
        # The only work on the commit path: count and wake. Nothing is read or sent here.
        if events:
            self.head += len(events)
            if self.pending_since is None:
                self.pending_since = events[0].at
            self._wake.set()

    # ---- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._ship()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a journal read or cursor write failed: never stop shipping for good
                self._failed("error", f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.retry_max_s)

    async def _ship(self) -> None:
        pause = 1.0
        while not self._stopping:
            self._wake.clear()  # before reading: a commit after this point wakes the wait below
            batch = await self._read()
            if batch is None:
                # Caught up: the journal ends at the cursor. The head is a count kept by the commit
                # listener, which may run after this reader already saw (and shipped) a commit's rows
                # and so count them twice (events_behind stuck at 1); set it right here. A commit
                # not yet visible to this read has set the wake-up, and is read next.
                self.head = self.cursor
                self.pending_since = None
                self.state = "ok" if self.last_ok_at else self.state
                # At most one cursor write a second (a row in the hall's next commit); one left
                # unwritten is written when the hall stays quiet for a second.
                await self._save_cursor()
                try:
                    unsaved = self.cursor != self._saved_cursor
                    await asyncio.wait_for(self._wake.wait(), 1.0 if unsaved else IDLE_POLL_S)
                except TimeoutError:
                    await self._save_cursor(force=True)
                await asyncio.sleep(LINGER_S)
                continue
            self.pending_since = batch.first_at
            self.head = max(self.head, batch.last_seq)
            outcome = await self._send(batch)
            if outcome == "ok":
                pause = 1.0
                await self._save_cursor()
                if batch.count < self.batch_size and not self._stopping:
                    # Not a backlog: let the next commits gather too. Without this, a hall whose
                    # clerks commit one call after another never looked caught up (each reply
                    # brought a few new events) and shipped a batch of three or four events
                    # after every send: call→LED +35…44% (bench_led.py --pairs 3 --pin).
                    await asyncio.sleep(LINGER_S)
                continue
            if outcome == "retry_now":
                continue
            self.failures += 1
            delay = min(pause, self.retry_max_s) * (0.8 + 0.4 * random.random())
            pause = min(pause * 2, self.retry_max_s)
            await asyncio.sleep(delay)

    async def _read(self) -> Batch | None:
        row = await self.runtime.journal.fetchone(BATCH_SQL, (self.cursor, self.batch_size))
        if row is None or not row[0]:
            return None
        return Batch(int(row[0]), int(row[1]), float(row[2]), bytes(row[3]))

    def _body(self, batch: Batch) -> bytes:
        head = {"hall": self.daemon.config.hall.id, "after": self.cursor, "head": self.head}
        if not self._profile_sent:
            head["profile"] = hall_profile(self.daemon.config)
        return json.dumps(head, ensure_ascii=False)[:-1].encode("utf-8") + b',"events":[' + batch.events + b"]}"

    async def _send(self, batch: Batch) -> str:
        assert self._client is not None
        try:
            # Compressed on a worker thread (zlib lets go of the GIL): the loop keeps serving the hall.
            body = await asyncio.to_thread(gzip.compress, self._body(batch), 1)
            async with asyncio.timeout(self.timeout_s):
                status, raw = await self._client.post(self.url + "/api/v1/ingest", body, {})
        except (OSError, HttpError, TimeoutError) as exc:
            return self._failed("unreachable", f"{type(exc).__name__}: {exc}")
        text = raw.decode("utf-8", "replace")
        body = _json(text)
        if status == 200 and isinstance(body.get("last_seq"), int):
            self.shipped += batch.count
            self.cursor = batch.last_seq
            self.last_ok_at = time.time()
            self.state, self.last_error = "ok", ""
            self._profile_sent = True
            return "ok"
        err = body.get("error") if isinstance(body.get("error"), dict) else {}
        if status == 409 and err.get("code") == "cursor_ahead" and isinstance(err.get("last_seq"), int):
            log.warning("central holds this hall only up to seq %s (cursor was %s): resending from there",
                        err["last_seq"], self.cursor)
            self.cursor = max(0, min(self.cursor, err["last_seq"]))
            self._profile_sent = False
            return "retry_now"
        if status == 413 and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)
            return "retry_now"
        state = {401: "unauthorized", 403: "unauthorized"}.get(status, "refused" if status < 500 else "unavailable")
        return self._failed(state, f"HTTP {status}: {err.get('message') or text[:200]}")

    def _failed(self, state: str, message: str) -> str:
        if state != self.state or message != self.last_error:
            log.warning("central service %s: %s (events stay in the journal and are resent)", state, message)
        self.state, self.last_error = state, message
        return "failed"

    async def _save_cursor(self, force: bool = False) -> None:
        if self.cursor == self._saved_cursor:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < 1.0:
            return
        # Into the hall's next group commit (no transaction and no fsync of its own: with
        # synchronous=FULL one a second was an fsync the hall's own commits queued behind).
        await self.runtime.journal.write_rows([(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (CURSOR_KEY, str(self.cursor)))])
        self._saved_cursor, self._saved_at = self.cursor, now

    # ---- progress ------------------------------------------------------------------------------

    @property
    def events_behind(self) -> int:
        return max(0, self.head - self.cursor)

    @property
    def seconds_behind(self) -> float:
        if self.events_behind == 0 or self.pending_since is None:
            return 0.0
        return max(0.0, self.runtime.clock() - self.pending_since)

    def status(self) -> dict[str, Any]:
        return {"url": self.url, "state": self.state, "cursor": self.cursor, "head": self.head,
                "events_behind": self.events_behind, "seconds_behind": round(self.seconds_behind, 1),
                "last_ok_at": self.runtime.iso(self.last_ok_at), "last_error": self.last_error,
                "shipped": self.shipped}


def hall_profile(config) -> dict[str, Any]:
    """What the central service needs to name things in city reports (sent with the first batch)."""
    hall = config.hall
    closes = hall.closes_minute
    return {
        "name": hall.name, "timezone": config.timezone, "reasons": list(hall.reasons),
        "businesses": {b.code: b.name for b in hall.businesses},
        "windows": {w.id: w.label for w in hall.windows},
        "clerks": {k.id: k.name for k in hall.clerks},
        "warn_wait_s": list(hall.warn_wait_s),
        "closes": None if closes is None else f"{closes // 60:02d}:{closes % 60:02d}",
        "dept_codes": {k: v for k, v in (getattr(config, "dept_codes", None) or {}).items() if v},
    }


def _json(text: str) -> dict:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class _ShipperCollector:
    def __init__(self, shipper: CentralShipper):
        self.s = shipper

    def collect(self):
        s = self.s
        g = GaugeMetricFamily("queued_central_events_behind", "Committed events not yet acknowledged by the central service")
        g.add_metric([], s.events_behind)
        yield g
        g = GaugeMetricFamily("queued_central_seconds_behind", "Age of the oldest event not yet acknowledged centrally")
        g.add_metric([], s.seconds_behind)
        yield g
        g = GaugeMetricFamily("queued_central_up", "1 while the last request to the central service succeeded")
        g.add_metric([], 1 if s.state == "ok" else 0)
        yield g
        c = CounterMetricFamily("queued_central_shipped_events", "Events acknowledged by the central service")
        c.add_metric([], s.shipped)
        yield c
        c = CounterMetricFamily("queued_central_failures", "Failed requests to the central service")
        c.add_metric([], s.failures)
        yield c
