"""The pad bridge as its own process, on a host other than the daemon's (mqtt.md, "When the bridge
runs on another host").

    python -m firmware_bridge.mqtt_bridge --port /dev/ttyUSB0 --address 3 --address 4 \\
        --mqtt mqtt://10.0.0.2:1883 --prefix queued --hall main

It polls its pads with a ``BusPoller`` and speaks to the daemon through the broker:
- each decoded pad event → ``{prefix}/{hall}/pad/{address}/event`` (JSON, QoS 1). The pad's ACK is
  given only after the broker's PUBACK (``on_event`` returns after the publish completes), so an
  event is never lost between pad and broker; the daemon drops resends by (address, EVT).
- ``pad/{address}/online``: ``true`` / ``false``, retained, on every change and after each connect.
- ``pad/{address}/command``: JSON commands from the daemon (show_clerk, show_state, rate_request,
  rate_cancel, and the extension show_parked), queued on the bus.

The JSON forms are in ``pad_json`` (imported here too), so the daemon and the bridge share one
spelling. This module never imports ``queued``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from . import cli_help
from .errors import FirmwareBridgeError
from .frames import HostCommand, PadEvent, ShowClerk, ShowParked, ShowState
from .pad_json import (  # noqa: F401 (re-exported: the daemon's side imports them from here)
    command_from_json,
    command_to_json,
    event_from_json,
    event_to_json,
    reasons_list,
    reasons_mask,
)
from .poller import BusPoller

log = logging.getLogger("firmware_bridge.mqtt")


def pad_topic(prefix: str, hall: str, address: int | str, leaf: str) -> str:
    return f"{prefix}/{hall}/pad/{address}/{leaf}"


def parse_mqtt_url(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise FirmwareBridgeError(f"MQTT url {url!r}: expected mqtt://HOST:PORT or mqtts://HOST:PORT")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


# ---- the bridge process ------------------------------------------------------------------------


class MqttBridge:
    """One bus, its pads, and one MQTT connection (reconnected with back-off: aiomqtt does not)."""

    def __init__(self, port: str | int, addresses: Sequence[int], mqtt_url: str, *, prefix: str = "queued",
                 hall: str = "main", baudrate: int = 9600, reply_timeout_s: float = 0.1, username: str = "",
                 password: str = "", client_id: str = "", min_cycle_s: float = 0.0):
        self.host, self.mqtt_port, self.tls = parse_mqtt_url(mqtt_url)
        self.prefix, self.hall = prefix, hall
        self.addresses = list(addresses)
        self.username, self.password = username or None, password or None
        self.client_id = client_id or f"queued-bridge-{os.getpid()}-{os.urandom(3).hex()}"
        self.poller = BusPoller(port, self.addresses, self._on_event, baudrate=baudrate,
                                reply_timeout_s=reply_timeout_s, on_online=self._on_online,
                                on_offline=self._on_offline, min_cycle_s=min_cycle_s)
        self.client = None
        self.connected = asyncio.Event()
        self.published = 0
        self.commands = 0
        self.bad_commands = 0
        self._task: asyncio.Task | None = None
        self._announce: set[int] = set()  # pads whose online state changed and is not yet published
        self._announce_wake = asyncio.Event()
        self._latest: dict[tuple[int, type], asyncio.Future] = {}  # the screen in flight per pad and kind
        self._deferred: dict[tuple[int, type], HostCommand] = {}  # the newest screen waiting behind it

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt-bridge")
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
        client = self.client
        if client is not None and self.connected.is_set():
            for addr in self.addresses:  # a clean stop: say the pads are gone (no will covers them all)
                try:
                    await asyncio.wait_for(client.publish(self._topic(addr, "online"), b"false", qos=1,
                                                          retain=True), 1.0)
                except Exception:
                    pass
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _topic(self, addr: int | str, leaf: str) -> str:
        return pad_topic(self.prefix, self.hall, addr, leaf)

    # ---- bus → broker ---------------------------------------------------------------------------

    async def _on_event(self, addr: int, event: PadEvent) -> None:
        client = self.client
        if client is None or not self.connected.is_set():
            raise FirmwareBridgeError("broker not connected; the pad keeps the event and resends it")
        payload = json.dumps(event_to_json(event), separators=(",", ":")).encode()
        # QoS 1: returns after the broker's PUBACK; raising leaves the event unacknowledged on the pad.
        await asyncio.wait_for(client.publish(self._topic(addr, "event"), payload, qos=1), 5.0)
        self.published += 1

    def _on_online(self, addr: int) -> None:
        self._announce.add(addr)
        self._announce_wake.set()

    _on_offline = _on_online

    # ---- the MQTT connection ----------------------------------------------------------------------

    async def _run(self) -> None:
        import ssl

        import aiomqtt

        backoff = 0.1
        while True:
            try:
                async with aiomqtt.Client(
                    self.host, self.mqtt_port, username=self.username, password=self.password,
                    identifier=self.client_id, protocol=aiomqtt.ProtocolVersion.V311, clean_session=True,
                    keepalive=15, timeout=5, tls_context=ssl.create_default_context() if self.tls else None,
                ) as client:
                    self.client = client
                    await client.subscribe(self._topic("+", "command"), qos=1)
                    self._announce.update(self.addresses)  # retained state may be stale after a gap
                    self._announce_wake.set()
                    self.connected.set()
                    backoff = 0.1
                    log.info("bridge connected to %s:%d", self.host, self.mqtt_port)
                    await self._serve(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("MQTT %s:%d: %s; retrying", self.host, self.mqtt_port, exc or type(exc).__name__)
            finally:
                self.connected.clear()
                self.client = None
            await asyncio.sleep(backoff)
            backoff = min(2.0, backoff * 2)

    async def _serve(self, client) -> None:
        tasks = {asyncio.create_task(self._announcer(client)), asyncio.create_task(self._commands(client))}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _announcer(self, client) -> None:
        while True:
            await self._announce_wake.wait()
            self._announce_wake.clear()
            while self._announce:
                addr = self._announce.pop()
                online = self.poller.is_online(addr)
                await client.publish(self._topic(addr, "online"), b"true" if online else b"false", qos=1,
                                     retain=True)

    async def _commands(self, client) -> None:
        async for msg in client.messages:
            parts = str(msg.topic).split("/")
            try:
                addr = int(parts[-2])
                if addr not in self.addresses:
                    continue  # another bridge's pad
                frame = command_from_json(msg.payload)
                self._send(addr, frame)
                self.commands += 1
            except (ValueError, FirmwareBridgeError) as exc:
                self.bad_commands += 1
                log.warning("ignoring command on %s: %s", msg.topic, exc)

    def _send(self, addr: int, frame: HostCommand) -> None:
        kind = (addr, type(frame))
        if isinstance(frame, ShowClerk | ShowState | ShowParked):
            if kind in self._latest:  # one screen of a kind in flight per pad; the newest follows it
                self._deferred[kind] = frame
                return
            fut = self.poller.send(addr, frame)
            self._latest[kind] = fut
            fut.add_done_callback(lambda f: self._screen_done(kind, frame, f))
        else:
            self.poller.send(addr, frame)

    def _screen_done(self, kind: tuple[int, type], frame: HostCommand, fut: asyncio.Future) -> None:
        del self._latest[kind]
        newer = self._deferred.pop(kind, None)
        if newer is not None:
            self._send(kind[0], newer)
        elif not fut.cancelled() and fut.result() is None and self.poller.is_running \
                and self.poller.is_online(kind[0]):
            # Unanswered on a busy line: send it again rather than leave the pad showing stale data.
            asyncio.get_running_loop().call_later(0.2, self._resend, kind, frame)

    def _resend(self, kind: tuple[int, type], frame: HostCommand) -> None:
        if kind not in self._latest and self.poller.is_running:
            self._send(kind[0], frame)

def _parser() -> argparse.ArgumentParser:
    p = cli_help.parser("python -m firmware_bridge.mqtt_bridge",
                        "评价器总线桥：串口上的评价器 ⇄ 经 MQTT 连到守护进程（评价器不在守护进程那台机器上时用）")
    p.add_argument("--port", required=True, help="总线的 pyserial 地址或串口设备（如 /dev/ttyUSB0）")
    p.add_argument("--address", type=int, action="append", required=True,
                   help="评价器地址 1..247，可重复给出")
    p.add_argument("--mqtt", default="", help="大厅 MQTT 服务器 mqtt://主机:端口；不给：有 --state-dir 时"
                                               "用守护进程内置的那个")
    p.add_argument("--prefix", default=None, help="主题前缀；不给：有 --state-dir 时取守护进程的，否则 queued")
    p.add_argument("--hall", default=None, help="大厅编号；不给：有 --state-dir 时取守护进程的，否则 main")
    p.add_argument("--baud", type=int, default=9600, help="波特率")
    p.add_argument("--reply-timeout-ms", type=int, default=100, help="等待评价器应答的毫秒数")
    p.add_argument("--username", default="", help="MQTT 账号；不给：从 --state-dir 的账号文件取，或匿名")
    p.add_argument("--password-file", default="", help="存放该账号密码的文件；不给：无密码")
    p.add_argument("--client-id", default="", help="MQTT 客户端编号；不给：按地址生成")
    p.add_argument("--state-dir", default="", help="在守护进程那台机器上：它的状态目录（数据库所在处），"
                                                   "从内置 MQTT 的账号文件里取这些评价器的账号；不给：不用")
    return cli_help.in_chinese(p)


def state_login(state_dir: str, addresses: Sequence[int], username: str = "") -> dict:
    """The bridge account of the daemon's embedded broker that serves `addresses` (or `username`),
    from the accounts file `queued serve` keeps in `<state-dir>/<database stem>-mqtt/`."""
    base = Path(state_dir)
    found = [base] if base.is_file() else [base / "accounts.json"] if (base / "accounts.json").is_file() \
        else sorted(base.glob("*-mqtt/accounts.json"))
    if len(found) != 1:
        raise FirmwareBridgeError(f"--state-dir {state_dir}: {'no' if not found else 'more than one'} embedded broker "
                                  f"accounts file (<database stem>-mqtt/accounts.json) there")
    try:
        doc = json.loads(found[0].read_text(encoding="utf-8"))
        accounts = doc["accounts"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FirmwareBridgeError(f"{found[0]}: cannot read the broker's accounts: {exc}") from None
    bridges = {n: a for n, a in accounts.items() if isinstance(a, dict) and a.get("role") == "bridge"}
    if username:
        fit = [username] if username in bridges else []
    else:
        fit = [n for n, a in bridges.items() if set(addresses) <= set(a.get("addresses", []))]
    if len(fit) != 1:
        listed = ", ".join(f"{n} (pads {a.get('addresses')})" for n, a in bridges.items()) or "none"
        raise FirmwareBridgeError(f"{found[0]}: no single bridge account for pads {list(addresses)}; bridge "
                                  f"accounts: {listed}")
    return {"username": fit[0], "password": bridges[fit[0]]["password"], "url": doc.get("broker", ""),
            "prefix": doc.get("prefix", ""), "hall": doc.get("hall", "")}


async def _main(args: argparse.Namespace) -> int:
    password = Path(args.password_file).read_text(encoding="utf-8").strip() if args.password_file else ""
    if args.state_dir:
        login = state_login(args.state_dir, args.address, args.username)
        args.username, password = login["username"], password or login["password"]
        args.mqtt = args.mqtt or login["url"]
        args.prefix, args.hall = args.prefix or login["prefix"], args.hall or login["hall"]
    args.prefix, args.hall = args.prefix or "queued", args.hall or "main"
    bridge = MqttBridge(args.port, args.address, args.mqtt, prefix=args.prefix, hall=args.hall, baudrate=args.baud,
                        reply_timeout_s=args.reply_timeout_ms / 1000, username=args.username, password=password,
                        client_id=args.client_id, min_cycle_s=0.005)
    await bridge.start()
    print(f"bridge: pads {args.address} on {args.port} <-> {args.mqtt} {args.prefix}/{args.hall}", flush=True)
    stop = asyncio.Event()
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await bridge.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for a in args.address:
        if not 1 <= a <= 247:
            _parser().error(f"--address {a} is outside 1..247")
    try:
        if args.state_dir:
            state_login(args.state_dir, args.address, args.username)
        elif not args.mqtt:
            raise FirmwareBridgeError("--mqtt mqtt://HOST:PORT (or --state-dir on the daemon's host) is required")
        if args.mqtt:
            parse_mqtt_url(args.mqtt)
    except FirmwareBridgeError as exc:
        _parser().error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
