"""WeChat notices for 掐时间来办事: one when a few people are ahead, one when the ticket is called.

The daemon never waits on WeChat. `on_events` runs as a runtime listener after each commit: it
only decides which notices are due and puts them on a bounded queue. A few worker tasks send them
with timeouts and bounded retries; a slow or failing WeChat delays a notice, never a ticket.
Each ticket gets each kind of notice at most once; what was sent is remembered in the database so
a restart does not repeat it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Gauge

from queued.channels.wechat import WeChatClient, WeChatError, WeChatSettings
from queued.core import events as e
from queued.journal import projection

log = logging.getLogger("queued.wechat")

projection.register_schema("""
CREATE TABLE IF NOT EXISTS wechat_notices (
    ticket TEXT NOT NULL,
    kind   TEXT NOT NULL,   -- ahead | called
    result TEXT NOT NULL,   -- sent | refused | failed | stale
    at     REAL NOT NULL,
    PRIMARY KEY (ticket, kind)
);
""")

REFUSED = 43101  # the user did not accept (or used up) the subscription
RETRY_DELAYS_S = (1.0, 5.0)  # between attempts of a transient failure; len + 1 attempts in all


@dataclass(frozen=True, slots=True)
class Notice:
    ticket: str
    kind: str  # ahead | called
    openid: str
    window: str | None = None


def _thing(text: str) -> dict[str, str]:
    return {"value": text[:20]}  # WeChat's `thing` fields take at most 20 characters


class Notifier:
    def __init__(self, runtime, client: WeChatClient, settings: WeChatSettings, registry,
                 page_url: Callable[[str], str], workers: int = 4, max_queue: int = 10000):
        self.runtime = runtime
        self.client = client
        self.settings = settings
        self.page_url = page_url
        self.queue: asyncio.Queue[Notice] = asyncio.Queue(max_queue)
        self.claimed: set[tuple[str, str]] = set()
        # business → waiting tickets with an openid not yet told they are near: only these are checked
        self.pending: dict[str, dict[str, object]] = {}
        self.n_workers = workers
        self._tasks: list[asyncio.Task] = []
        self.notices = Counter("queued_wechat_notices", "WeChat notices by kind and result "
                               "(sent, refused, failed, stale, dropped)", ["kind", "result"], registry=registry)
        self.api_errors = Counter("queued_wechat_api_errors", "WeChat API errors by errcode "
                                  "(network: no answer)", ["errcode"], registry=registry)
        self.backlog = Gauge("queued_wechat_notice_backlog", "Notices waiting to be sent", registry=registry)
        self.backlog.set_function(self.queue.qsize)

    # ---- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        since = self.runtime.clock() - 2 * 86400  # ticket ids never repeat; two days covers a restart
        rows = await self.runtime.journal.fetchall("SELECT ticket, kind FROM wechat_notices WHERE at > ?", (since,))
        self.claimed.update((r["ticket"], r["kind"]) for r in rows)
        if self.settings.template_ahead:
            for t in self.runtime.engine.holders.values():
                if (t.id, "ahead") not in self.claimed:
                    self.pending.setdefault(t.business, {})[t.id] = t
        self.runtime.subscribe(self.on_events)
        self._tasks = [asyncio.create_task(self._worker(), name=f"wechat-notice-{i}")
                       for i in range(self.n_workers)]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # ---- deciding (in the listener: no await, no I/O) ---------------------------------------------

    def on_events(self, events: Sequence[e.Event]) -> None:
        eng = self.runtime.engine
        touched: set[str] = set()
        for ev in events:
            kind = type(ev)
            if kind is e.TicketIssued:
                if ev.openid and self.settings.template_ahead and (ev.ticket, "ahead") not in self.claimed:
                    t = eng.tickets.get(ev.ticket)
                    if t is not None:
                        self.pending.setdefault(t.business, {})[t.id] = t
                touched.add(ev.business)
            elif kind is e.TicketCalled or kind is e.TicketCancelled:
                t = eng.tickets.get(ev.ticket)
                if t is not None:
                    touched.add(t.business)
                    if kind is e.TicketCalled and t.openid and self.settings.template_called:
                        self._want(Notice(t.id, "called", t.openid, ev.window))
            elif kind is e.TicketTransferred or kind is e.DayStarted:
                touched.update(self.pending)
        for business in touched:
            self._check_ahead(business)

    def _check_ahead(self, business: str) -> None:
        """Tickets of `business` not yet told, now within `notify_ahead` of the front."""
        waiting = self.pending.get(business)
        if not waiting:
            return
        eng = self.runtime.engine
        limit = self.settings.notify_ahead
        for t in list(waiting.values()):
            if t.status != "waiting" or eng.tickets.get(t.id) is not t:
                del waiting[t.id]  # called, cancelled or yesterday's
                continue
            if t.business != business:  # transferred to another business's line
                del waiting[t.id]
                self.pending.setdefault(t.business, {})[t.id] = t
                self._check_ahead(t.business)
                continue
            pos = eng.position(t, self.runtime.clock())
            if pos is not None and pos - 1 <= limit:
                del waiting[t.id]
                self._want(Notice(t.id, "ahead", t.openid))

    def _want(self, notice: Notice) -> None:
        key = (notice.ticket, notice.kind)
        if key in self.claimed:
            return
        self.claimed.add(key)
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            log.warning("WeChat notice backlog full; %s notice for %s dropped", notice.kind, notice.ticket)
            self.notices.labels(notice.kind, "dropped").inc()

    # ---- sending (worker tasks) ------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            notice = await self.queue.get()
            try:
                await self._deliver(notice)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("WeChat notice for %s failed", notice.ticket)
            finally:
                self.queue.task_done()

    async def _deliver(self, notice: Notice) -> None:
        result = "failed"
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            try:
                await self.client.access_token()  # may wait on WeChat: decide what to say after it
                message = self.message(notice)
                if message is None:  # called or gone before we got to it: an 'ahead' notice is moot
                    result = "stale"
                    break
                await self.client.send_subscribe(notice.openid, message["template_id"], message["data"],
                                                 message.get("page", ""))
                result = "sent"
                break
            except WeChatError as exc:
                self.api_errors.labels("network" if exc.errcode is None else str(exc.errcode)).inc()
                if exc.transient and attempt < len(RETRY_DELAYS_S):
                    await asyncio.sleep(RETRY_DELAYS_S[attempt])
                    continue
                result = "refused" if exc.errcode == REFUSED else "failed"
                log.warning("WeChat %s notice for ticket %s not sent: %s", notice.kind, notice.ticket, exc)
                break
        self.notices.labels(notice.kind, result).inc()
        try:
            await self.runtime.journal.execute_write(
                "INSERT OR REPLACE INTO wechat_notices (ticket, kind, result, at) VALUES (?,?,?,?)",
                (notice.ticket, notice.kind, result, self.runtime.clock()))
        except Exception as exc:  # the journal is closing or failed: the notice itself went out
            log.info("could not record the WeChat notice for %s: %s", notice.ticket, exc)

    def message(self, notice: Notice) -> dict | None:
        """The subscribe message for a notice, from the ticket's state now (None when moot)."""
        eng = self.runtime.engine
        t = eng.tickets.get(notice.ticket)
        if t is None:
            return None
        business = eng.hall.business_index[t.business].name
        if notice.kind == "ahead":
            pos = eng.position(t, self.runtime.clock())
            if t.status != "waiting" or pos is None:
                return None
            ahead = pos - 1
            data = {
                "thing1": _thing(business),
                "character_string2": {"value": t.number},
                "number3": {"value": str(ahead)},
                "thing4": _thing("快到您了，请尽快到大厅等候叫号" if ahead else "下一位就是您，请到大厅等候"),
            }
            template = self.settings.template_ahead
        else:
            window = eng.hall.window_index.get(notice.window or "")
            label = window.label if window else f"{notice.window}号窗口"
            at = datetime.fromtimestamp(t.called_at or self.runtime.clock(), self.runtime.calendar.tz)
            data = {
                "thing1": _thing(business),
                "character_string2": {"value": t.number},
                "thing3": _thing(f"请到{label}办理"),
                "time4": {"value": f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}"},
            }
            template = self.settings.template_called
        out = {"template_id": template, "data": data}
        page = self.page_url(t.id)
        if page:
            out["page"] = page
        return out
