"""The journal's writer and readers.

One writer task owns the write connection. Callers `append()` events and get a future that resolves
once the events are committed; the writer takes everything queued since its last commit and writes
it in one transaction (group commit), so throughput grows with load while each caller still waits
for a real commit. Commit order is append order, so a reply that depends on an earlier event (a
call of a just-issued ticket) is never acknowledged before it.

A separate read connection serves replay, reports and token look-ups; WAL lets it read while the
writer writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiosqlite

from queued.core.calendar import HallCalendar
from queued.core.events import EVENT_TYPES, Event
from queued.errors import JournalError
from queued.files import create_private, tighten
from queued.journal import projection
from queued.journal.schema import CORE_SCHEMA, PRAGMAS

log = logging.getLogger("queued.journal")

INSERT_EVENT = "INSERT INTO events (day, at, kind, data) VALUES (?,?,?,?)"
Listener = Callable[[Sequence[Event]], None]


def encode(ev: Event) -> str:
    return json.dumps(ev.to_dict(), ensure_ascii=False, separators=(",", ":"))


class Journal:
    def __init__(self, path: str, calendar: HallCalendar):
        self.path = path
        self.calendar = calendar
        self.db: aiosqlite.Connection | None = None  # the writer's
        self.read: aiosqlite.Connection | None = None
        self._pending: list[tuple[list[Event], asyncio.Future]] = []
        self._statements: list[tuple[str, Sequence[Any]]] = []  # non-event rows, see write_rows()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False
        self.failed: BaseException | None = None
        self.listeners: list[Listener] = []
        # figures for /metrics
        self.commits = 0
        self.events_written = 0
        self.last_commit_s = 0.0

    # ---- life ----------------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            # 0600 before SQLite opens it: its -wal and -shm are created with the database's mode.
            create_private(self.path)
            for suffix in ("-wal", "-shm"):
                tighten(self.path + suffix)
        except OSError as exc:
            raise JournalError(f"cannot create the database {self.path}: {exc}") from exc
        try:
            self.db = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in PRAGMAS:
                await self.db.execute(pragma)
            await self.db.execute("PRAGMA wal_autocheckpoint=0")  # see _checkpoints()
            for migrate in projection.MIGRATIONS:
                await self.db._execute(migrate, self.db._conn)
            await self.db.executescript(CORE_SCHEMA + "\n".join(projection.SCHEMAS))
            self.read = await aiosqlite.connect(self.path, isolation_level=None)
            await self.read.execute("PRAGMA busy_timeout=5000")
            self.read.row_factory = sqlite3.Row
        except sqlite3.Error as exc:
            await self._close_connections()
            raise JournalError(f"cannot open the database {self.path}: {exc}") from exc
        self._task = asyncio.create_task(self._writer(), name="journal-writer")
        self._checkpointer = asyncio.create_task(self._checkpoints(), name="journal-checkpoints")

    async def _checkpoints(self, every_s: float = 2.0) -> None:
        """Copy the WAL into the database off the commit path.

        SQLite's automatic checkpoint runs inside a commit (and fsyncs the main file), stalling
        every reply waiting on that commit; it is switched off for the writer and done here, on the
        reader's own thread, PASSIVE so it never blocks the writer."""
        while True:
            await asyncio.sleep(every_s)
            if self.read is None:
                return
            try:
                await self.read.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # busy: try again next time
                log.debug("checkpoint skipped: %s", exc)

    async def close(self) -> None:
        task = getattr(self, "_checkpointer", None)
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._close_connections()

    async def _close_connections(self) -> None:
        for conn in (self.read, self.db):
            if conn is not None:
                await conn.close()
        self.read = self.db = None

    @property
    def healthy(self) -> bool:
        return self.failed is None and self._task is not None and not self._task.done()

    # ---- writing -------------------------------------------------------------------------------

    def append(self, events: list[Event]) -> asyncio.Future:
        """Queue events for the next commit; the future resolves when they are durable."""
        fut = asyncio.get_running_loop().create_future()
        if self.failed is not None:
            fut.set_exception(JournalError(f"the journal failed earlier: {self.failed}"))
            return fut
        if self._closing:
            fut.set_exception(JournalError("the journal is closing"))
            return fut
        self._pending.append((events, fut))
        self._wake.set()
        return fut

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                if self._closing:
                    return
                continue
            batch, self._pending = self._pending, []
            statements, self._statements = self._statements, []
            events = [ev for evs, _ in batch for ev in evs]
            started = time.perf_counter()
            try:
                if events or statements:
                    await self._write(events, statements)
            except BaseException as exc:  # a full disk or a broken file: stop acknowledging anything
                self.failed = exc
                log.critical("journal write failed, no further commands are accepted: %s", exc)
                for _, fut in batch + self._pending:
                    if not fut.done():
                        fut.set_exception(JournalError(f"the journal could not be written: {exc}"))
                self._pending = []
                if not isinstance(exc, Exception):
                    raise
                return
            self.commits += 1
            self.events_written += len(events)
            self.last_commit_s = time.perf_counter() - started
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            for listener in self.listeners:  # after commit, in commit order
                try:
                    listener(events)
                except Exception:
                    log.exception("journal listener %r failed", listener)

    def _rows(self, events: Iterable[Event]) -> tuple[list[tuple], list[tuple[str, list[tuple]]]]:
        day_of = self.calendar.day
        rows = []
        groups: list[tuple[str, list[tuple]]] = []  # consecutive runs of one statement, order kept
        projectors = projection.PROJECTORS
        for ev in events:
            day = day_of(ev.at)
            rows.append((day, ev.at, ev.kind, encode(ev)))
            chain = projectors.get(ev.kind)
            if chain is None:
                continue
            for proj in chain:
                for sql, params in proj(ev, day):
                    if groups and groups[-1][0] == sql:
                        groups[-1][1].append(params)
                    else:
                        groups.append((sql, [params]))
        return rows, groups

    async def _write(self, events: list[Event], statements: Sequence[tuple[str, Sequence[Any]]] = ()) -> None:
        rows, groups = self._rows(events)
        db = self.db
        assert db is not None

        def write(conn: sqlite3.Connection) -> None:
            # Runs on the connection's own thread: one hop per batch instead of one per statement.
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(INSERT_EVENT, rows)
                for sql, params in groups:
                    conn.executemany(sql, params)
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await db._execute(write, db._conn)

    def write_rows(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> asyncio.Future:
        """Queue statements outside the event log (sessions) into the next group commit: no commit
        and no fsync of their own, in order with the events around them. The future resolves once
        they are durable. Their parameters must be storable (the caller checks): a failure here
        fails the batch like any journal write."""
        fut = self.append([])
        if not fut.done():
            self._statements.extend(statements)
        return fut

    async def execute_write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A write outside the event log (tokens, maintenance), serialised behind pending commits."""
        await self.append([])
        assert self.db is not None
        await self.db.execute(sql, params)

    # ---- reading -------------------------------------------------------------------------------

    async def load_day(self, day: str) -> list[Event]:
        """The events of one hall day, in order, decoded: what replay applies.

        Decoding is the cost of a start-up replay, so the day's JSON objects are joined and parsed
        in one call (a 100,000-event day is one json.loads, not 100,000), on plain tuples.
        """
        assert self.db is not None
        async with self.db.execute("SELECT kind, data FROM events WHERE day=? ORDER BY seq", (day,)) as cur:
            rows = await cur.fetchall()
        if not rows:
            return []
        payloads = json.loads("[" + ",".join([r[1] for r in rows]) + "]")
        types = EVENT_TYPES
        out = []
        for (kind, _), data in zip(rows, payloads, strict=True):
            cls = types.get(kind)
            if cls is None:
                log.warning("journal holds an event of unknown kind %r; skipped", kind)
                continue
            out.append(cls(**data))
        return out

    async def max_serial(self) -> int:
        assert self.read is not None
        # Bound 办件 take ids from the same counter (CaseBound): never reuse one after a restart.
        async with self.read.execute("SELECT MAX(COALESCE((SELECT MAX(serial) FROM tickets), 0),"
                                     " COALESCE((SELECT MAX(case_id) FROM case_bindings), 0))") as cur:
            row = await cur.fetchone()
        return int(row[0])

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        assert self.read is not None
        async with self.read.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        assert self.read is not None
        async with self.read.execute(sql, params) as cur:
            return await cur.fetchone()

    async def close_stale_tickets(self, today: str) -> int:
        """Tickets of earlier days left open by a daemon that was down over midnight: 当日业务不留号."""
        assert self.db is not None
        await self.append([])
        cur = await self.db.execute(
            "UPDATE tickets SET status='cancelled', cancel_reason='day_closed'"
            " WHERE day < ? AND status IN ('waiting', 'called', 'serving')",
            (today,),
        )
        return cur.rowcount
