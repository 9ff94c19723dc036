"""Pads served by a bridge on another host (`[[bus]] remote = true`): the daemon's side of mqtt.md's
"When the bridge runs on another host".

It looks to the adapter like a BusPoller (`send`, `is_online`, `start`/`stop`) but speaks MQTT:
- hears `{prefix}/{hall}/pad/+/event` and `.../online` and publishes `.../pad/{address}/command`;
- exactly-once: the session is persistent (clean_session false, a fixed client id) and PUBACKs are
  sent by hand, only after the event's effect is committed (`on_event` returned), so a daemon that
  dies in between gets the message again from the broker; resends (the bridge's, or the broker's)
  are dropped by (address, EVT) against the last processed EVT, which the journal keeps.
- an event whose handler fails is not acknowledged: the connection is dropped and made again, and
  the broker delivers the event again.

Limit: a broker keeps messages only for a session it knows, so events a bridge publishes before the
daemon ever connected to that broker are lost (the bridge got its PUBACK from the broker).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections import Counter, deque
from collections.abc import Awaitable, Callable

import aiomqtt

from firmware_bridge.errors import FirmwareBridgeError
from firmware_bridge.frames import EVENT_TYPE_NAMES, HostCommand, PadEvent, ShowClerk, ShowParked, ShowState
from firmware_bridge.mqtt_bridge import command_to_json, event_from_json, pad_topic, parse_mqtt_url
from queued.mqtt_end import end_link

log = logging.getLogger("queued.pads")

QUEUE_LIMIT = 1000  # commands kept while the broker is away (state commands collapse to the latest)


class RemoteBuses:
    """All remote pads of the hall over one MQTT connection. Addresses are unique across them."""

    def __init__(self, url: str, prefix: str, hall: str, ports: dict[int, str],
                 on_event: Callable[[str, int, PadEvent], Awaitable[None]],
                 on_online: Callable[[str, int], None], on_offline: Callable[[str, int], None],
                 acks: dict[tuple[str, int], int], *, username: str = "", password: str = "",
                 client_id: str = ""):
        self.url = url
        self.host, self.port, self.tls = parse_mqtt_url(url)
        self.prefix, self.hall = prefix, hall
        self.ports = ports  # address → the configured port name of its bus
        self.on_event, self.on_online, self.on_offline = on_event, on_online, on_offline
        self.last_evt: dict[int, int] = {a: acks[(p, a)] for a, p in ports.items() if (p, a) in acks}
        self.online: dict[int, bool] = {a: False for a in ports}
        self.username, self.password = username or None, password or None
        # Fixed, so the broker keeps our session (and the events published while we are away).
        self.client_id = client_id or f"queued-pads-{hall}"
        self.connected = False
        self.connects = 0
        self.events = Counter()  # processed, by type
        self.duplicates = Counter()  # by port
        self.bad_messages = 0
        self._out: deque[tuple[int, HostCommand, asyncio.Future]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._client: aiomqtt.Client | None = None
        self._first = asyncio.Event()

    # ---- the BusPoller-like face ----------------------------------------------------------------

    def is_online(self, addr: int) -> bool:
        return self.online.get(addr, False)

    def pads_online(self, port: str) -> int:
        return sum(1 for a, p in self.ports.items() if p == port and self.online[a])

    def send(self, addr: int, frame: HostCommand) -> asyncio.Future:
        """Queue a command for the bridge; the future gives True once the broker has it, None if dropped."""
        if addr not in self.ports:
            raise FirmwareBridgeError(f"pad {addr} is not on a remote bus")
        command_to_json(frame)  # a frame with no JSON form is the caller's error, not the link's
        fut = asyncio.get_running_loop().create_future()
        if isinstance(frame, ShowState | ShowClerk | ShowParked):  # only the latest matters
            for item in [i for i in self._out if i[0] == addr and type(i[1]) is type(frame)]:
                self._out.remove(item)
                _resolve(item[2], None)
        self._out.append((addr, frame, fut))
        while len(self._out) > QUEUE_LIMIT:
            _resolve(self._out.popleft()[2], None)
        self._wake.set()
        return fut

    async def start(self, wait_s: float = 2.0) -> None:
        self._task = asyncio.create_task(self._run(), name="pads-remote")
        try:
            await asyncio.wait_for(self._first.wait(), wait_s)
        except TimeoutError:
            log.warning("MQTT broker %s not reachable yet; remote pads wait for it", self.url)

    async def stop(self) -> None:
        await end_link(self._task, self._client)
        self._task = None
        self.connected = False
        while self._out:
            _resolve(self._out.popleft()[2], None)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # ---- the connection -------------------------------------------------------------------------

    def _topic(self, addr: int | str, leaf: str) -> str:
        return pad_topic(self.prefix, self.hall, addr, leaf)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                client = aiomqtt.Client(
                    self.host, self.port, username=self.username, password=self.password,
                    identifier=self.client_id, protocol=aiomqtt.ProtocolVersion.V311, clean_session=False,
                    keepalive=15, timeout=5, tls_context=ssl.create_default_context() if self.tls else None,
                )
                # aiomqtt has no manual acks of its own: paho's, so PUBACK follows our commit.
                client._client.manual_ack_set(True)
                self._client = client
                async with client:
                    client.pending_calls_threshold = 10_000
                    await client.subscribe(self._topic("+", "event"), qos=1)
                    await client.subscribe(self._topic("+", "online"), qos=1)
                    self.connected = True
                    self.connects += 1
                    self._first.set()
                    backoff = 0.05
                    await self._serve(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("remote pads: MQTT %s: %s; retrying", self.url, exc or type(exc).__name__)
            finally:
                self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(1.0, backoff * 2)

    async def _serve(self, client: aiomqtt.Client) -> None:
        tasks = {asyncio.create_task(self._read(client)), asyncio.create_task(self._write(client))}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
            raise aiomqtt.MqttError("remote pads link ended")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _write(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                addr, frame, fut = self._out[0]
                payload = json.dumps(command_to_json(frame), ensure_ascii=False, separators=(",", ":")).encode()
                await client.publish(self._topic(addr, "command"), payload, qos=1)
                self._out.popleft()
                _resolve(fut, True)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            await self._heard(str(msg.topic), msg.payload)  # raises: no PUBACK, the broker sends it again
            if msg.qos > 0:
                client._client.ack(msg.mid, msg.qos)

    async def _heard(self, topic: str, payload) -> None:
        parts = topic.split("/")
        try:
            addr = int(parts[-2])
        except (ValueError, IndexError):
            addr = -1
        if addr not in self.ports:
            self.bad_messages += 1  # a pad nobody configured: acknowledged and ignored
            return
        port = self.ports[addr]
        if isinstance(payload, bytes | bytearray):
            payload = bytes(payload).decode("utf-8", errors="replace")
        if parts[-1] == "online":
            online = str(payload).strip() == "true"
            self.online[addr] = online
            # Every `true` (also a bridge's repeat after its reconnect) re-sends clerk and state.
            (self.on_online if online else self.on_offline)(port, addr)
            return
        try:
            event = event_from_json(str(payload), addr)
        except FirmwareBridgeError as exc:
            self.bad_messages += 1
            log.warning("remote pad %d: bad event %r: %s", addr, payload, exc)
            return
        if self.last_evt.get(addr) == event.evt:
            self.duplicates[port] += 1
            return
        await self.on_event(port, addr, event)
        self.last_evt[addr] = event.evt
        self.events[EVENT_TYPE_NAMES[type(event)]] += 1


def _resolve(fut: asyncio.Future, value) -> None:
    if not fut.done():
        fut.set_result(value)
