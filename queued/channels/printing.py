"""The kiosk's printed ticket: ESC/POS for 58/80 mm thermal printers, sent after the 201.

The slip is rendered with python-escpos on a `Dummy` printer (bytes, testable), with the text
sent as GBK in the printer's Chinese mode ourselves: escpos' own `text()` only switches to GB18030
when a string holds an ideograph, so full-width punctuation alone (，：) would come out as '?'.
The QR code is the printer's native one (GS ( k), centred by `set(align="center")` before it.

Printing never blocks issuing: a listener hears TicketIssued after the commit, renders the slip and
queues it; a worker task sends it. A jammed or unplugged printer only logs and counts a failure
(`queued_print_jobs_total{result="failed"}`).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from prometheus_client import Counter

from queued.channels import ChannelError
from queued.core import events as e
from queued.errors import ConfigError

log = logging.getLogger("queued.channels.printing")

FS_CHINESE_ON = b"\x1c\x26"  # FS &: bytes >= 0x80 are two-byte GBK characters
FS_CHINESE_SIZE = b"\x1c\x21"  # FS ! n: 0x04 double width, 0x08 double height (Chinese characters)
PRINTED_CHANNELS = ("kiosk", "desk")
SEND_TIMEOUT_S = 10.0


class PrinterError(ChannelError):
    code, status = "printer_failed", 503


def ticket_url(base: str, ticket_id: str, rating_key: str | None = None) -> str:
    """The ticket's mobile page, where the holder follows the queue and rates the case. The rating
    key rides in the fragment (`#k=`): the page reads it, browsers never send it to a server."""
    url = f"{base.rstrip('/')}/m/t/{ticket_id}"
    return f"{url}#k={rating_key}" if rating_key else url


def wait_lines(ahead: int | None, eta_seconds: float | None, serving: bool = True) -> list[str]:
    """What the ticket says about the wait, one line each, never contradicting itself: nobody ahead
    with windows still busy reads "您是下一位" and when a window frees, not "前面还有 0 人 … 约 5 分钟";
    with no window of the business open yet (`serving` false) no minutes are promised at all."""
    minutes = None if eta_seconds is None else max(1, math.ceil(eta_seconds / 60))
    if not serving:
        if ahead is not None and ahead > 0:
            return [f"前面还有 {ahead} 人", "窗口开始办理后依次叫号"]
        return ["您是下一位", "窗口开始办理后即叫您"]
    if ahead is None:
        return [] if minutes is None else [f"预计等候约 {minutes} 分钟"]
    if ahead <= 0:
        if eta_seconds is None or eta_seconds < 60:
            return ["您是下一位，马上叫号"]
        return ["您是下一位", f"窗口正在办理，约 {minutes} 分钟后叫到您"]
    if minutes is None:
        return [f"前面还有 {ahead} 人"]
    return [f"前面还有 {ahead} 人", f"预计等候约 {minutes} 分钟"]


def serving_now(hall, engine, business: str) -> bool:
    """Some window that serves `business` is open (idle, calling or serving)."""
    return any(business in w.businesses and w.id in engine.windows
               and engine.windows[w.id].state in ("idle", "calling", "serving") for w in hall.windows)


def serving_windows(hall, engine, business: str) -> str:
    """The windows that serve `business`, as the citizen looks for them ("1号、3号窗口"): the open
    ones when any is open, else all that may open."""
    ids = [w.id for w in hall.windows if business in w.businesses]
    open_ids = [i for i in ids if i in engine.windows and engine.windows[i].state in ("idle", "calling", "serving")]
    shown = open_ids or ids
    if not shown:
        return ""
    named = [w for w in hall.windows if w.id in shown]
    if all(not w.name and w.id.isdigit() for w in named):
        return "、".join(f"{w.id}号" for w in named) + "窗口"
    return "、".join(w.label for w in named)


def render_ticket(*, hall_name: str, business_name: str, number: str, ahead: int | None, eta_seconds: int | None,
                  issued_at: str, url: str, width_chars: int = 32, slot: str | None = None,
                  green: bool = False, windows: str = "", serving: bool = True) -> bytes:
    """The slip as ESC/POS bytes."""
    from escpos.printer import Dummy  # imported on first print: it costs 0.3 s at start-up

    p = Dummy()
    p.hw("INIT")
    p._raw(FS_CHINESE_ON)

    def line(text: str = "") -> None:
        p._raw(text.encode("gbk", errors="replace") + b"\n")

    p.set(align="center", bold=True)
    line(hall_name)
    p.set(bold=False)
    line("-" * width_chars)
    p._raw(FS_CHINESE_SIZE + b"\x0c")  # the business name in double-size Chinese
    p.set(double_width=True, double_height=True)
    line(business_name + ("（绿色通道）" if green else ""))
    p._raw(FS_CHINESE_SIZE + b"\x00")
    p.set(custom_size=True, width=2, height=2)  # GS ! 0x11: the number, double width and height
    p._raw(number.encode("ascii") + b"\n")
    p.set(normal_textsize=True, align="center")
    if slot:
        line(f"预约时段：{slot}")
    for text in wait_lines(ahead, eta_seconds, serving):
        line(text)
    if windows:
        line(f"办理窗口：{windows}")
    line(f"取号时间：{issued_at}")
    line("-" * width_chars)
    if url:
        p.set(align="center")
        p.qr(url, native=True, size=5 if width_chars < 40 else 6)
        line("微信扫码，查看排队进度，办结后评价")
    line("请留意叫号，当日有效，过号请到窗口咨询")
    p.cut()
    return p.output


class PrinterLink:
    """Where the bytes go: serial:///dev/ttyUSB1?baudrate=9600, tcp://host:9100, usb://04b8:0202,
    file:///path (appends; for tests and for a spool another program prints)."""

    def __init__(self, url: str):
        self.url = url
        parts = urlsplit(url)
        self.scheme = parts.scheme
        if parts.scheme == "file":
            if not parts.path:
                raise ConfigError(f"config: printer.url {url!r}: expected file:///path")
            self.path = Path(parts.path)
        elif parts.scheme == "tcp":
            if not parts.hostname or not parts.port:
                raise ConfigError(f"config: printer.url {url!r}: expected tcp://HOST:PORT")
            self.host, self.port = parts.hostname, parts.port
        elif parts.scheme == "serial":
            if not parts.path:
                raise ConfigError(f"config: printer.url {url!r}: expected serial:///dev/ttyUSB0")
            self.device = parts.path
            self.baudrate = int(parse_qs(parts.query).get("baudrate", ["9600"])[0])
        elif parts.scheme == "usb":
            vid, _, pid = parts.netloc.partition(":")
            try:
                self.vid, self.pid = int(vid, 16), int(pid, 16)
            except ValueError:
                raise ConfigError(f"config: printer.url {url!r}: expected usb://VID:PID in hex") from None
        else:
            raise ConfigError(f"config: printer.url {url!r}: use serial://, tcp://, usb:// or file://")

    async def send(self, data: bytes, timeout: float = SEND_TIMEOUT_S) -> None:
        if self.scheme == "tcp":
            await asyncio.wait_for(self._tcp(data), timeout)
        else:
            await asyncio.wait_for(asyncio.to_thread(self._blocking_send, data, timeout), timeout + 1)

    async def _tcp(self, data: bytes) -> None:
        _, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(data)
            await writer.drain()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    def _blocking_send(self, data: bytes, timeout: float) -> None:
        if self.scheme == "file":
            with open(self.path, "ab") as f:
                f.write(data)
        elif self.scheme == "serial":
            import serial

            with serial.serial_for_url(self.device, baudrate=self.baudrate, write_timeout=timeout) as port:
                port.write(data)
                port.flush()
        else:
            try:
                from escpos.printer import Usb
            except ImportError as exc:  # pyusb missing
                raise PrinterError(f"USB printing needs pyusb: {exc}") from None
            printer = Usb(self.vid, self.pid)
            try:
                printer._raw(data)
            finally:
                printer.close()


class _Line:
    """One printer and its queue: a slow or jammed printer delays only its own kiosk's slips."""

    def __init__(self, url: str, width: int):
        self.link = PrinterLink(url)
        self.width = max(16, width)
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=50)
        self.task: asyncio.Task | None = None


class TicketPrinter:
    """Adapter: prints kiosk and guide-desk tickets after the commit, each on its kiosk's printer:
    `[[kiosk]] printer` for a kiosk whose token has that label, `[printer] url` for the others."""

    def __init__(self, daemon):
        cfg = daemon.config
        section = cfg.sections["printer"]
        self.runtime = daemon.runtime
        self.daemon = daemon
        self.default = _Line(section["url"], int(section.get("width_chars", 32))) if section.get("url") else None
        self.kiosks: dict[str, _Line | None] = {
            label: (_Line(k["printer"], k["width_chars"]) if k["printer"] else None)
            for label, k in (cfg.sections.get("kiosks") or {}).items()}
        self.qr_off = {label for label, k in (cfg.sections.get("kiosks") or {}).items() if not k["qr"]}
        self.base = cfg.public_url or f"http://{cfg.http_host}:{cfg.http_port}"
        self.hall = cfg.hall
        self.hall_name = cfg.hall.name
        self.slot_minutes = int(cfg.sections["appointments"].get("slot_minutes", 30))
        self.jobs = Counter("queued_print_jobs", "Printed tickets by result (ok, failed, dropped)", ["result"],
                            registry=daemon.metrics.registry)
        self.sources: dict[str, str] = {}  # ticket id → the label of the kiosk that is issuing it
        if self.lines():
            self.runtime.subscribe(self.on_events)

    def lines(self) -> list[_Line]:
        out = [line for line in (self.default, *self.kiosks.values()) if line is not None]
        return list({id(line): line for line in out}.values())

    def line_for(self, label: str | None) -> _Line | None:
        """The printer of the kiosk whose token has `label` (None: it has none)."""
        if label is not None and label in self.kiosks:
            return self.kiosks[label]
        return self.default

    def note_source(self, ticket_id: str, label: str) -> None:
        """The kiosk page (or POST /api/v1/tickets, `app.state.ticket_source`) says which kiosk issues
        `ticket_id`, before it issues it: one dict entry, nothing on the issue path waits for a printer."""
        if len(self.sources) >= 1000:  # issues refused after the note leave theirs behind: drop the oldest
            self.sources.pop(next(iter(self.sources)))
        self.sources[ticket_id] = label

    def forget_source(self, ticket_id: str) -> None:
        self.sources.pop(ticket_id, None)

    def on_events(self, events: Sequence[e.Event]) -> None:
        for ev in events:
            if type(ev) is e.TicketIssued and ev.channel in PRINTED_CHANNELS:
                label = self.sources.pop(ev.ticket, None)
                line = self.line_for(label)
                if line is None:
                    continue
                try:
                    slip = self.slip(ev, line.width, qr=label not in self.qr_off)
                except Exception:
                    log.exception("cannot render the ticket %s", ev.number)
                    self.jobs.labels("failed").inc()
                    continue
                try:
                    line.queue.put_nowait(slip)
                except asyncio.QueueFull:  # the printer is far behind: a late slip helps nobody
                    log.warning("printer queue full (%s), ticket %s not printed", line.link.url, ev.number)
                    self.jobs.labels("dropped").inc()

    def slip(self, ev: e.TicketIssued, width: int = 32, qr: bool = True) -> bytes:
        rt = self.runtime
        eng = rt.engine
        t = eng.tickets.get(ev.ticket)
        est = eng.estimate(t, rt.clock()) if t is not None else None
        slot = None
        if ev.due_at is not None:
            start, end = rt.calendar.iso(ev.due_at)[11:16], rt.calendar.iso(ev.due_at + self.slot_minutes * 60)[11:16]
            slot = f"{start}-{end}"
        return render_ticket(
            hall_name=self.hall_name, business_name=eng.hall.business_index[ev.business].name, number=ev.number,
            ahead=None if est is None or est.position is None else est.position - 1,
            eta_seconds=None if est is None else est.eta_seconds,
            issued_at=rt.calendar.iso(ev.at)[:16].replace("T", " "),
            url=ticket_url(self.base, ev.ticket, ev.rating_key) if qr else "",
            width_chars=width, slot=slot, green=ev.priority == "green",
            windows=serving_windows(self.hall, eng, ev.business), serving=serving_now(self.hall, eng, ev.business),
        )

    async def start(self) -> None:
        if self.lines():
            self.daemon.app.state.ticket_source = self.note_source
        for line in self.lines():
            line.task = asyncio.create_task(self._worker(line), name=f"ticket-printer {line.link.url}")

    async def stop(self) -> None:
        for line in self.lines():
            if line.task is not None:
                line.task.cancel()
                try:
                    await line.task
                except asyncio.CancelledError:
                    pass
                line.task = None

    async def _worker(self, line: _Line) -> None:
        while True:
            data = await line.queue.get()
            try:
                await line.link.send(data)
            except Exception as exc:
                log.warning("printing on %s failed: %s", line.link.url, exc or type(exc).__name__)
                self.jobs.labels("failed").inc()
            else:
                self.jobs.labels("ok").inc()
