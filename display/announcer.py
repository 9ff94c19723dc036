"""`queued announcer`: a hall PC with speakers says every call.

It subscribes to `{prefix}/{hall}/calls` (a display account, like any screen: mqtt.md "Access"),
fetches each call's WAV from the daemon (`audio`, rendered there from the hall's clips or
espeak-ng) and plays it with a player command (`paplay`, `aplay`, or --player), one call after the
other in the order they came, `repeat` times each (the message's `repeat`, i.e. the daemon's
[hall] announce_repeat, unless --repeat says otherwise). A call whose turn comes more than
--max-age seconds after it was made is skipped: after a broker outage the daemon (and a broker that
keeps sessions) deliver what was held back, and "请A003号到3号窗口" a minute late sends people to a
window that has moved on. Ages are measured on the daemon's clock (the Date of its answers), so a
PC whose clock is off does not skip everything. It says it is alive on `screen/{id}/alive` every
10 s. Without audio from the daemon (engine off, the daemon unreachable) it speaks the call's text
with a local espeak-ng when there is one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import aiomqtt
import httpx

from display.publisher import parse_url
from display.tool_login import add_login_options, resolve_login, run_tasks
from display.voice.errors import VoiceError
from display.voice.phrase import Phrase
from queued.errors import QueuedError

log = logging.getLogger("queued.announcer")

ALIVE_EVERY_S = 10.0
MAX_PAYLOAD = 4096  # a call is ~250 bytes
MAX_QUEUE = 100  # calls waiting for their turn; beyond this the oldest go (they would be stale anyway)
PLAYER_TIMEOUT_S = 30.0
FETCH_TRIES = 3
AUDIO_PATH = re.compile(r"^/audio/calls/[0-9a-f]{16}\.wav$")
SPEECH = re.compile(r"^请(?P<ticket>[A-Z]{1,2}\d{1,6})号到(?P<label>.{1,32})办理$")
CLOCK_SKEW_S = 2.0  # below this the Date header's one-second steps are noise, not a wrong clock


@dataclass(frozen=True, slots=True)
class Call:
    ticket: str
    window: str
    kind: str
    speech: str
    audio: str | None
    repeat: int | None
    at: float  # epoch seconds on the daemon's clock

    @property
    def key(self) -> tuple:
        return self.audio or self.ticket, self.window, self.kind, self.at


def parse_call(payload: bytes, hall: str) -> Call | None:
    """A `calls` message of this hall, or None for anything else (never raises)."""
    if len(payload) > MAX_PAYLOAD:
        return None
    try:
        data = json.loads(payload)
        if not isinstance(data, dict) or data.get("v") != 1 or data.get("hall") != hall:
            return None
        ticket, window, kind, speech = (data[k] for k in ("ticket", "window", "kind", "speech"))
        at = datetime.fromisoformat(data["at"]).timestamp()
    except (ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(x, str) and 0 < len(x) <= 64 for x in (ticket, window, kind, speech)):
        return None
    if kind not in ("call", "recall"):
        return None
    audio = data.get("audio")
    if not (isinstance(audio, str) and AUDIO_PATH.match(audio)):
        audio = None  # only the daemon's own audio paths are fetched
    repeat = data.get("repeat")
    if not (isinstance(repeat, int) and not isinstance(repeat, bool) and 0 <= repeat <= 5):
        repeat = None
    return Call(ticket, window, kind, speech, audio, repeat, at)


def default_player() -> str:
    """PulseAudio/PipeWire when a sound server runs, else ALSA directly."""
    pulse = os.environ.get("PULSE_SERVER") or os.path.exists(
        os.path.join(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}"), "pulse", "native"))
    if pulse and shutil.which("paplay"):
        return "paplay {file}"
    if shutil.which("aplay"):
        return "aplay -q {file}"
    if shutil.which("paplay"):
        return "paplay {file}"
    raise QueuedError("no audio player: install alsa-utils (aplay) or pulseaudio-utils (paplay), or give --player")


class Announcer:
    def __init__(self, url: str, prefix: str, hall: str, daemon_url: str, screen_id: str, player: str,
                 username: str | None = None, password: str | None = None, repeat: int | None = None,
                 max_age_s: float = 60.0, gap_s: float = 0.8, windows: list[str] | None = None):
        self.host, self.port, self.tls = parse_url(url)
        self.url = url
        self.base = f"{prefix}/{hall}"
        self.hall = hall
        self.daemon_url = daemon_url.rstrip("/")
        self.screen_id = screen_id
        self.username, self.password = username, password
        self.player = shlex.split(player)
        if not self.player:
            raise QueuedError("--player: an empty command")
        self.repeat = repeat
        self.max_age_s = max_age_s
        self.gap_s = gap_s
        self.windows = windows
        self.queue: deque[Call] = deque()
        self._new = asyncio.Event()
        self._seen: deque[tuple] = deque(maxlen=500)
        self.offset = 0.0  # the daemon's clock minus ours
        self.played: list[tuple[str, str]] = []  # (ticket, window) per play, for the log and tests
        self.skipped = 0
        self.espeak = None
        self.http: httpx.AsyncClient | None = None
        self.tmp = tempfile.mkdtemp(prefix="queued-announcer-")

    # ---- messages in ---------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> bool:
        """Queue one call; True when it was queued. Anything malformed or repeated is ignored."""
        if topic == f"{self.base}/status":
            log.info("daemon %s", payload.decode("utf-8", "replace")[:16])
            return False
        if topic != f"{self.base}/calls":
            return False
        call = parse_call(payload, self.hall)
        if call is None or (self.windows is not None and call.window not in self.windows):
            return False
        if call.key in self._seen:  # QoS 1 may deliver twice
            return False
        self._seen.append(call.key)
        if len(self.queue) >= MAX_QUEUE:
            dropped = self.queue.popleft()
            self.skipped += 1
            print(f"跳过 {dropped.ticket} → {dropped.window}: too many calls waiting", flush=True)
        self.queue.append(call)
        self._new.set()
        return True

    def age(self, call: Call) -> float:
        return time.time() + self.offset - call.at

    def _learn_clock(self, response: httpx.Response) -> None:
        try:
            server = parsedate_to_datetime(response.headers["date"]).timestamp() + 0.5  # whole seconds
        except (KeyError, TypeError, ValueError):
            return
        skew = server - time.time()
        self.offset = skew if abs(skew) > CLOCK_SKEW_S else 0.0

    # ---- playing -------------------------------------------------------------------------------

    async def play_loop(self) -> None:
        while True:
            while not self.queue:
                self._new.clear()
                await self._new.wait()
            call = self.queue.popleft()
            age = self.age(call)
            if age > self.max_age_s:
                self.skipped += 1
                print(f"跳过 {call.ticket} → {call.window}: {age:.0f} s old (--max-age {self.max_age_s:g})", flush=True)
                continue
            path = await self._audio(call)
            if path is None:
                print(f"无法播报 {call.ticket} → {call.window}: no audio", flush=True)
                continue
            times = self.repeat if self.repeat is not None else (call.repeat if call.repeat is not None else 2)
            for i in range(times):
                if i:
                    await asyncio.sleep(self.gap_s)
                await self._play(path, call)
            try:
                os.unlink(path)
            except OSError:
                pass

    async def _audio(self, call: Call) -> str | None:
        """The call's WAV in a temporary file: the daemon's, else a local espeak-ng rendering."""
        path = os.path.join(self.tmp, f"{call.ticket}-{int(call.at * 1000)}.wav")
        if call.audio is not None:
            for attempt in range(FETCH_TRIES):
                try:
                    r = await self.http.get(self.daemon_url + call.audio)
                    self._learn_clock(r)
                    if r.status_code == 200 and r.content[:4] == b"RIFF":
                        with open(path, "wb") as f:
                            f.write(r.content)
                        return path
                    log.warning("audio of %s: HTTP %s", call.ticket, r.status_code)
                    if r.status_code == 404:
                        break
                except httpx.HTTPError as exc:
                    log.warning("audio of %s: %s", call.ticket, exc)
                await asyncio.sleep(0.5 * (attempt + 1))
        return await self._speak_locally(call, path)

    async def _speak_locally(self, call: Call, path: str) -> str | None:
        m = SPEECH.match(call.speech)
        if m is None:
            return None
        if self.espeak is None:
            from display.voice.espeak import Espeak

            try:
                self.espeak = Espeak()
            except VoiceError:
                self.espeak = False
        if not self.espeak:
            return None
        try:
            data = await asyncio.to_thread(self.espeak.render, Phrase(m["ticket"], m["label"]).engine_text())
        except VoiceError as exc:
            log.warning("local espeak-ng: %s", exc)
            return None
        with open(path, "wb") as f:
            f.write(data)
        return path

    async def _play(self, path: str, call: Call) -> None:
        fill = {"file": path, "ticket": call.ticket, "window": call.window, "kind": call.kind}
        args = [a.format(**fill) if "{" in a else a for a in self.player]
        if not any("{file}" in a for a in self.player):
            args.append(path)
        try:
            proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            print(f"播放器无法启动 ({args[0]}): {exc}", flush=True)
            return
        try:
            _, err = await asyncio.wait_for(proc.communicate(), PLAYER_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            print(f"播放器超时 ({args[0]})", flush=True)
            return
        if proc.returncode != 0:
            print(f"播放器出错 ({args[0]} exited {proc.returncode}): {err.decode(errors='replace')[:200]}", flush=True)
            return
        self.played.append((call.ticket, call.window))
        print(f"播报 {call.ticket} → {call.window}", flush=True)

    # ---- the broker ----------------------------------------------------------------------------

    async def run(self, duration: float | None = None) -> None:
        deadline = None if duration is None else time.monotonic() + duration
        async with httpx.AsyncClient(timeout=15.0) as self.http:
            try:
                self._learn_clock(await self.http.get(self.daemon_url + "/healthz"))
            except httpx.HTTPError as exc:
                log.warning("daemon %s not reachable yet: %s", self.daemon_url, exc)
            player = asyncio.create_task(self.play_loop(), name="announcer-play")
            try:
                await self._connect_loop(deadline)
            finally:
                player.cancel()
                await asyncio.gather(player, return_exceptions=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    async def _connect_loop(self, deadline: float | None) -> None:
        backoff = 0.2
        while deadline is None or time.monotonic() < deadline:
            try:
                # A persistent session: calls made while this PC reconnects wait at the broker.
                async with aiomqtt.Client(self.host, self.port, protocol=aiomqtt.ProtocolVersion.V311,
                                          identifier=self.username or self.screen_id, clean_session=False,
                                          username=self.username, password=self.password, keepalive=15) as client:
                    await client.subscribe(f"{self.base}/calls", qos=1)
                    await client.subscribe(f"{self.base}/status", qos=1)
                    print(f"已连接 {self.url}，等待叫号", flush=True)
                    backoff = 0.2
                    await self._session(client, deadline)
                    return
            except aiomqtt.MqttError as exc:
                print(f"broker {self.url} unreachable ({exc}); retrying", flush=True)
            timeout = backoff if deadline is None else max(0.0, min(backoff, deadline - time.monotonic()))
            await asyncio.sleep(timeout)
            backoff = min(1.0, backoff * 2)  # like the daemon: both are back within a second of the broker

    async def _session(self, client: aiomqtt.Client, deadline: float | None) -> None:
        async def alive():
            body = json.dumps({"v": 1, "windows": self.windows or []}).encode()
            while True:
                await client.publish(f"{self.base}/screen/{self.screen_id}/alive", body, qos=0)
                await asyncio.sleep(ALIVE_EVERY_S)

        async def receive():
            async for msg in client.messages:
                payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload or "").encode()
                self.handle(str(msg.topic), payload)

        tasks = [asyncio.create_task(alive()), asyncio.create_task(receive())]
        await run_tasks(tasks, deadline)


def parser() -> argparse.ArgumentParser:
    from firmware_bridge import cli_help

    p = cli_help.parser("queued announcer", "语音叫号：大厅电脑订阅每次叫号，依次用音箱播放守护进程生成的语音（WAV）。")
    add_login_options(p, "announcer")
    p.add_argument("--daemon", default=None, help="守护进程的 HTTP 地址（语音文件从这里取）；不给：从其配置或"
                                                   "状态目录得知，否则 http://127.0.0.1:8080")
    p.add_argument("--player", default=None, help="播放 WAV 的命令，{file} 代表文件（还可用 {ticket}、{window}）；"
                                                   "不给：paplay，没有则 aplay -q")
    p.add_argument("--repeat", type=int, default=None, help="每次叫号播几遍；不给：按守护进程 [hall] "
                                                             "announce_repeat（随每次叫号带来）")
    p.add_argument("--max-age", type=float, default=60.0, help="轮到播放时已超过这么多秒的叫号跳过"
                                                                "（断线重连后不补播旧号）")
    p.add_argument("--gap", type=float, default=0.8, help="两遍之间的静音秒数")
    p.add_argument("--windows", default="all", help="只播这些窗口的叫号，如 1,2,3；all 为全部")
    p.add_argument("--duration", type=float, default=None, help="运行这么多秒后退出；不给：一直运行")
    return cli_help.in_chinese(p)


def parse_args(argv: list[str]) -> argparse.Namespace:
    return parser().parse_args(argv)


def run_announcer(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    windows = None if args.windows.strip() == "all" else [w.strip() for w in args.windows.split(",") if w.strip()]
    if (windows is not None and not windows) or (args.repeat is not None and not 0 <= args.repeat <= 5) \
            or args.max_age <= 0 or args.gap < 0:
        print("queued announcer: --windows needs ids like 1,2,3; --repeat 0..5; --max-age > 0; --gap ≥ 0",
              file=sys.stderr)
        return 2
    try:
        login = resolve_login(args, "announcer")
        announcer = Announcer(login["url"], login["prefix"], login["hall"], login["http"], login["screen_id"],
                              args.player or default_player(), username=login["username"],
                              password=login["password"], repeat=args.repeat, max_age_s=args.max_age,
                              gap_s=args.gap, windows=windows)
    except QueuedError as exc:
        print(f"queued announcer: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(announcer.run(args.duration))
    except KeyboardInterrupt:
        pass
    return 0
