"""`queued led-sim`: a terminal stand-in for the hall's LED window controllers.

It subscribes exactly as a real controller does (`{prefix}/{hall}/window/{id}/led`, retained, plus
the daemon's `status`), drops stale or repeated messages by `seq`, says it is alive on
`{prefix}/{hall}/screen/{id}/alive` every 10 s, and draws each window's two lines, redrawn on
change (flashing in reverse video for a few seconds after a call). For installers checking a
hall's MQTT set-up without the hardware.

On the daemon's embedded broker (which refuses anonymous clients) it logs in with the `led-sim`
display account, or the account named by --screen-id, from the accounts file the daemon keeps
beside its database: found from --state-dir, or from --config (no config: the demo hall)
(display.tool_login). Its clock is the hall's (the daemon's time zone), not the machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiomqtt

from display.publisher import parse_url
from display.tool_login import add_login_options, resolve_login, run_tasks
from queued.errors import ConfigError, QueuedError

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

FLASH_S = 4.0
ALIVE_EVERY_S = 10.0
CELL = 16  # display columns of one LED line
CLEAR = "\x1b[H\x1b[2J"
STATE_TEXT = {"idle": "空闲", "calling": "呼叫", "serving": "办理", "paused": "暂停", "closed": "关闭"}


@dataclass
class Strip:
    window: str
    lines: list[str] = field(default_factory=lambda: ["", ""])
    state: str = "?"
    seq: int = 0
    flash_until: float = 0.0


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def fit(text: str, cols: int) -> str:
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > cols:
            break
        out, used = out + ch, used + w
    return out + " " * (cols - used)


def hall_clock(tz: ZoneInfo, wall: float | None = None) -> str:
    """The hall's time of day (its [daemon] timezone), not the machine's: installers' PCs run on UTC."""
    return datetime.fromtimestamp(time.time() if wall is None else wall, tz).strftime("%H:%M:%S")


def render(strips: dict[str, Strip], status: str, now: float, color: bool = True,
           clock: str | None = None) -> str:
    """The whole screen as text: one boxed two-line strip per window."""
    rows = [f"LED 模拟器  daemon: {status}  ({clock or hall_clock(DEFAULT_TZ)})", ""]
    for s in strips.values():
        flashing = now < s.flash_until
        head = f"{s.window}号窗口  [{STATE_TEXT.get(s.state, s.state)}]  seq {s.seq}"
        on, off = ("\x1b[7;1;31m", "\x1b[0m") if color and flashing else ("\x1b[1;31m", "\x1b[0m") if color else ("", "")
        rows.append(head + ("  *" if flashing and not color else ""))
        rows.append("┌" + "─" * (CELL + 2) + "┐")
        for line in (s.lines + ["", ""])[:2]:
            rows.append(f"│ {on}{fit(line, CELL)}{off} │")
        rows.append("└" + "─" * (CELL + 2) + "┘")
    return "\n".join(rows) + "\n"


class LedSim:
    def __init__(self, url: str, prefix: str, hall: str, windows: list[str] | None, screen_id: str,
                 color: bool = True, out=sys.stdout, username: str | None = None, password: str | None = None,
                 timezone: str = "Asia/Shanghai"):
        self.url = url
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"--timezone: unknown time zone {timezone!r}") from None
        self.username, self.password = username, password
        self.host, self.port, self.tls = parse_url(url)
        self.base = f"{prefix}/{hall}"
        self.windows = windows  # None: all
        self.screen_id = screen_id
        self.color = color
        self.out = out
        self.strips: dict[str, Strip] = {w: Strip(w) for w in windows or []}
        self.status = "?"
        self._drawn = ""

    def topics(self) -> list[str]:
        if self.windows is None:
            return [f"{self.base}/status", f"{self.base}/window/+/led"]
        return [f"{self.base}/status", *(f"{self.base}/window/{w}/led" for w in self.windows)]

    def handle(self, topic: str, payload: bytes, now: float) -> bool:
        """Apply one message; True when the screen changed. Anything malformed is ignored."""
        if topic == f"{self.base}/status":
            status = payload.decode("utf-8", "replace")[:16]
            if status == "online" and self.status != "online":
                for s in self.strips.values():
                    s.seq = 0  # the daemon restarted: its seq may start again
            changed, self.status = status != self.status, status
            return changed
        try:
            data = json.loads(payload)
            window, lines, seq = str(data["window"]), data["lines"], int(data["seq"])
        except (ValueError, KeyError, TypeError):
            return False
        if not isinstance(lines, list) or (self.windows is not None and window not in self.windows):
            return False
        strip = self.strips.setdefault(window, Strip(window))
        if seq <= strip.seq:
            return False  # stale or repeated
        strip.seq = seq
        strip.lines = [str(x) for x in lines[:2]]
        strip.state = str(data.get("state", "?"))
        if data.get("flash"):
            strip.flash_until = now + FLASH_S
        return True

    def draw(self, force: bool = False) -> None:
        strips = dict(sorted(self.strips.items(), key=lambda kv: (len(kv[0]), kv[0])))
        text = render(strips, self.status, time.monotonic(), self.color, hall_clock(self.tz))
        if text != self._drawn or force:
            self._drawn = text
            self.out.write((CLEAR if self.color else "\n") + text)
            self.out.flush()

    async def run(self, duration: float | None = None) -> None:
        deadline = None if duration is None else time.monotonic() + duration
        backoff = 0.2
        while deadline is None or time.monotonic() < deadline:
            try:
                async with aiomqtt.Client(self.host, self.port, protocol=aiomqtt.ProtocolVersion.V311,
                                          identifier=f"led-sim-{self.screen_id}", username=self.username,
                                          password=self.password) as client:
                    for topic in self.topics():
                        await client.subscribe(topic, qos=1)
                    backoff = 0.2
                    await self._session(client, deadline)
                    return
            except aiomqtt.MqttError as exc:
                self.status = f"broker unreachable ({exc})"
                self.draw()
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)

    async def _session(self, client: aiomqtt.Client, deadline: float | None) -> None:
        async def alive():
            body = json.dumps({"v": 1, "windows": self.windows or sorted(self.strips)}).encode()
            while True:
                await client.publish(f"{self.base}/screen/{self.screen_id}/alive", body, qos=0)
                await asyncio.sleep(ALIVE_EVERY_S)

        async def ticker():  # flashing ends without a message
            while True:
                await asyncio.sleep(0.5)
                self.draw()

        async def receive():
            async for msg in client.messages:
                payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload or "").encode()
                if self.handle(str(msg.topic), payload, time.monotonic()):
                    self.draw()

        tasks = [asyncio.create_task(f()) for f in (alive, ticker, receive)]
        self.draw(force=True)
        await run_tasks(tasks, deadline)


def parser() -> argparse.ArgumentParser:
    from firmware_bridge import cli_help

    p = cli_help.parser("queued led-sim", "LED 窗口屏模拟器：像真的屏幕控制器一样订阅 MQTT，在终端里显示各窗口屏、\n"
                                          "汇总屏和大厅时钟（大厅时区的时间，不是本机的 UTC）。")
    add_login_options(p, "led-sim")
    p.add_argument("--windows", default="all", help="显示哪些窗口，如 1,2,3；all 为全部")
    p.add_argument("--plain", action="store_true", help="不用颜色、不清屏（适合写进日志）")
    p.add_argument("--duration", type=float, default=None, help="运行这么多秒后退出；不给：一直运行")
    return cli_help.in_chinese(p)


def parse_args(argv: list[str]) -> argparse.Namespace:
    return parser().parse_args(argv)


def run_led_sim(argv: list[str]) -> int:
    args = parse_args(argv)
    windows = None if args.windows.strip() == "all" else [w.strip() for w in args.windows.split(",") if w.strip()]
    if windows is not None and not windows:
        print("queued led-sim: --windows needs ids like 1,2,3 or all", file=sys.stderr)
        return 2
    try:
        login = resolve_login(args, "led-sim")
        sim = LedSim(login["url"], login["prefix"], login["hall"], windows, login["screen_id"], color=not args.plain,
                     username=login["username"], password=login["password"], timezone=login["timezone"])
    except QueuedError as exc:
        print(f"queued led-sim: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(sim.run(args.duration))
    except KeyboardInterrupt:
        pass
    return 0
