"""The daemon's one MQTT client: connects (and reconnects, with backoff), announces `online` over
its retained will `offline`, publishes what the outbox holds, and hears screens' heartbeats.

aiomqtt does not reconnect by itself, hence the loop. Publishing never touches the hot path: the
runtime's listener only marks the outbox; this task builds and sends when the broker is there.
After every (re)connect every window's screen and the board are republished (retained), so
screens are right at once even if the broker lost its retained messages in a restart. With a
`RetainedWatch` the link also hears its own retained topics and reports another client's
overwrite (`on_overwrite`), so the display service can say its state again.

The link speaks MQTT 5 when the broker does (Mosquitto, EMQX), so that it can subscribe to its
own topics with No Local: the broker then sends it only other clients' messages there. Over
3.1.1 every message it publishes came back to it and was parsed and matched (~5 µs of the
daemon's CPU per ticket issued under load). A broker that refuses 5 (CONNACK "unsupported
protocol version") gets 3.1.1 from then on, with the echoes told apart by the watch. Screens and
bridges speak either: the broker translates.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.subscribeoptions import SubscribeOptions

from display.errors import DisplayError
from display.messages import Changes, Message
from display.outbox import Outbox
from display.retained_watch import RetainedWatch
from queued.mqtt_end import end_link

log = logging.getLogger("queued.display")

BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 1.0  # a restarted broker is found again within a second
MAX_INCOMING = 1000  # heartbeats queued for the reader; beyond this a flood is dropped by aiomqtt
# paho leaves Nagle on: a lone small PUBLISH then waits for the previous segment's (delayed) ACK,
# which cost 5–40 ms per call on loopback. Screens want each message now.
# paho keeps at most 20 QoS 1 messages unacknowledged by default and queues the rest (in order),
# so a burst of calls waits for round trips; but it rescans up to this many messages on every
# PUBACK, so far more is quadratic. 100 beat both 20 and 1000 on a 200-window burst.
MAX_IN_FLIGHT = 100
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
V5, V311 = aiomqtt.ProtocolVersion.V5, aiomqtt.ProtocolVersion.V311
# CONNACK codes that mean "not this protocol version": 3.1.1's 1, MQTT 5's 0x84.
UNSUPPORTED_VERSION = (1, 0x84)


def refuses_v5(exc: BaseException) -> bool:
    """True when a connect over MQTT 5 failed because the broker does not speak it."""
    rc = getattr(exc, "rc", None)
    value = getattr(rc, "value", rc)
    return isinstance(exc, MqttConnectError) and value in UNSUPPORTED_VERSION


def parse_url(url: str) -> tuple[str, int, bool]:
    """mqtt://host:port or mqtts://host:port → (host, port, tls)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise DisplayError(f"MQTT url {url!r}: expected mqtt://HOST:PORT or mqtts://HOST:PORT")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


class MqttLink:
    def __init__(self, url: str, *, status_topic: str, subscriptions: list[str], outbox: Outbox,
                 build: Callable[[Changes], list[Message]], on_connect: Callable[[], None],
                 on_message: Callable[[str, bytes], None], username: str = "", password: str = "",
                 client_id: str = "", watch: RetainedWatch | None = None,
                 on_overwrite: Callable[[str, str, bytes], None] | None = None):
        self.url = url
        self.host, self.port, self.tls = parse_url(url)
        self.status_topic = status_topic
        self.subscriptions = subscriptions
        self.outbox = outbox
        self.build = build
        self.on_connect = on_connect
        self.on_message = on_message
        self.watch = watch
        self.on_overwrite = on_overwrite
        self.username = username or None
        self.password = password or None
        self.client_id = client_id or f"queued-{os.getpid()}-{os.urandom(3).hex()}"
        self.protocol = V5  # until the broker says it does not speak it
        self.connected = False
        self.connects = 0
        self.published = 0
        self.client: aiomqtt.Client | None = None
        self._task: asyncio.Task | None = None
        self._first = asyncio.Event()

    # ---- life ----------------------------------------------------------------------------------

    async def start(self, wait_s: float = 2.0) -> None:
        """Start the loop and wait for the first attempt (at most `wait_s`): never fail for want of a broker."""
        self._task = asyncio.create_task(self._run(), name="mqtt-link")
        try:
            await asyncio.wait_for(self._first.wait(), wait_s)
        except TimeoutError:
            pass
        if not self.connected:
            log.warning("MQTT broker %s not reachable yet; screens will update once it is", self.url)

    async def stop(self) -> None:
        client = self.client
        self.on_overwrite = None  # our own "offline" below is not a stranger's
        if self.watch is not None:
            self.watch.sent(self.status_topic, b"offline")
        if client is not None and self.connected:
            try:  # a clean disconnect does not fire the will: say it ourselves
                await asyncio.wait_for(client.publish(self.status_topic, b"offline", qos=1, retain=True), 1.0)
            except Exception:
                pass
        await end_link(self._task, client)
        self._task = None
        self.connected = False

    # ---- the loop ------------------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        v5 = self.protocol is V5
        return aiomqtt.Client(
            self.host, self.port, username=self.username, password=self.password, identifier=self.client_id,
            protocol=self.protocol, clean_session=None if v5 else True, keepalive=15, timeout=5,
            clean_start=True if v5 else MQTT_CLEAN_START_FIRST_ONLY,
            will=aiomqtt.Will(self.status_topic, b"offline", qos=1, retain=True),
            tls_context=ssl.create_default_context() if self.tls else None,
            max_queued_incoming_messages=MAX_INCOMING, socket_options=NODELAY, max_inflight_messages=MAX_IN_FLIGHT,
        )

    async def _run(self) -> None:
        backoff = BACKOFF_MIN_S
        failing = False
        while True:
            try:
                async with self._client() as client:
                    client.pending_calls_threshold = 100_000  # we bound our own batches
                    self.client = client
                    if self.watch is not None:
                        self.watch.reset(echoes=self.protocol is not V5)
                        self.watch.sent(self.status_topic, b"online")
                    await client.publish(self.status_topic, b"online", qos=1, retain=True)
                    for topic in self.subscriptions:
                        await client.subscribe(topic, qos=0)
                    if self.watch is not None:
                        # Straight from paho's reader: no queue, no task per message. Over MQTT 5
                        # with No Local: only other clients' messages come.
                        options = SubscribeOptions(qos=0, noLocal=True) if self.protocol is V5 else None
                        for topic in self.watch.filters:
                            client._client.message_callback_add(topic, self._watched)
                            if options is None:
                                await client.subscribe(topic, qos=0)
                            else:
                                await client.subscribe(topic, options=options)
                    self.connected = True
                    self.connects += 1
                    backoff = BACKOFF_MIN_S
                    if failing:
                        log.info("MQTT broker %s is back", self.url)
                    failing = False
                    self.on_connect()
                    self._first.set()
                    await self._serve(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # aiomqtt.MqttError, OSError, timeouts: all mean "try again"
                if self.protocol is V5 and refuses_v5(exc):
                    log.info("MQTT broker %s does not speak MQTT 5: using 3.1.1", self.url)
                    self.protocol = V311
                    await asyncio.sleep(0)
                    continue
                self._first.set()  # start() need not wait out a refused connection
                if not failing:
                    log.warning("MQTT broker %s: %s; retrying", self.url, exc or type(exc).__name__)
                failing = True
            finally:
                self.connected = False
                self.client = None
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)

    async def _serve(self, client: aiomqtt.Client) -> None:
        tasks = {asyncio.create_task(self._write(client)), asyncio.create_task(self._read(client))}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
            raise aiomqtt.MqttError("link task ended")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _write(self, client: aiomqtt.Client) -> None:
        # Publishes go straight to paho, which writes them in order as the socket allows and keeps
        # QoS 1 in flight; nobody waits for a PUBACK (aiomqtt's per-publish wait costs a task and a
        # future each: a burst of calls then queues behind its own bookkeeping). A lost connection
        # surfaces as a failed publish or in the reader; the state is republished on reconnect.
        paho = client._client
        while True:
            await self.outbox.ready.wait()
            changes = self.outbox.take()
            watch = self.watch
            for m in self.build(changes):
                if watch is not None and m.retain:
                    watch.sent(m.topic, m.payload)
                info = paho.publish(m.topic, m.payload, m.qos, m.retain)
                if info.rc != 0:
                    raise aiomqtt.MqttCodeError(info.rc, f"could not publish to {m.topic}")
                self.published += 1
            if paho.want_write():
                await asyncio.sleep(0)  # let the loop flush before the next batch is built

    def publish_now(self, topic: str, payload: bytes, retain: bool = True) -> None:
        """One message out of turn (a correction); dropped when not connected (the next connect
        republishes everything anyway)."""
        client = self.client
        if client is None or not self.connected:
            return
        if self.watch is not None and retain:
            self.watch.sent(topic, payload)
        if client._client.publish(topic, payload, 1, retain).rc == 0:
            self.published += 1

    def _watched(self, _client, _userdata, msg) -> None:
        try:
            kind = self.watch.heard(msg.topic, bytes(msg.payload), bool(msg.retain))
            if kind is not None and self.on_overwrite is not None:
                self.on_overwrite(kind, msg.topic, bytes(msg.payload))
        except Exception:  # a stranger's message must never end the link
            log.exception("ignoring MQTT message on %s", msg.topic)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            payload = msg.payload
            if isinstance(payload, str):
                payload = payload.encode()
            elif not isinstance(payload, bytes | bytearray):
                payload = b"" if payload is None else str(payload).encode()
            try:
                self.on_message(str(msg.topic), bytes(payload))
            except Exception:  # a stranger's message must never end the link
                log.exception("ignoring MQTT message on %s", msg.topic)
