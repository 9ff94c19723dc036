"""MQTT clients for the broker tests: a paho client whose messages land in a queue, and the accounts
the daemon wrote beside its database (what an installer copies into an LED gateway)."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

import paho.mqtt.client as mqtt


def accounts(database: str | Path) -> dict:
    """The embedded broker's accounts file of the daemon whose database is `database`."""
    db = Path(database)
    return json.loads((db.parent / f"{db.stem}-mqtt" / "accounts.json").read_text(encoding="utf-8"))


class Client:
    """One MQTT connection (paho, MQTT 3.1.1); `rc` is the CONNACK's reason code."""

    def __init__(self, port: int, username: str | None = None, password: str | None = None,
                 client_id: str = "", host: str = "127.0.0.1"):
        self.got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.disconnects = 0
        self.skipped: list[mqtt.MQTTMessage] = []
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{time.monotonic_ns()}",
                                      protocol=mqtt.MQTTv311)
        if username is not None:
            c.username_pw_set(username, password)
        c.on_message = lambda _c, _u, m: self.got.put(m)
        c.on_connect = lambda _c, _u, _f, rc, _p: self.connected.put(rc)

        def gone(*_a):
            self.disconnects += 1
        c.on_disconnect = gone
        c.connect(host, port, keepalive=30)
        c.loop_start()
        try:
            self.rc = self.connected.get(timeout=5)
        except queue.Empty:
            self.rc = None

    @property
    def refused(self) -> bool:
        return self.rc is None or self.rc.is_failure

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.client.subscribe(topic, qos=qos)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def collect(self, seconds: float) -> list[mqtt.MQTTMessage]:
        """Everything that arrives in the next `seconds`."""
        out, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.got.get(timeout=left))
            except queue.Empty:
                break
        return out

    def first(self, pred, timeout: float = 5.0) -> mqtt.MQTTMessage:
        """The first message for which `pred` holds; those before it are kept in `self.skipped`."""
        deadline = time.monotonic() + timeout
        self.skipped = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                m = self.got.get(timeout=left)
            except queue.Empty:
                break
            if pred(m):
                return m
            self.skipped.append(m)
        raise AssertionError(f"no matching message in {timeout} s; got {[(m.topic, m.payload[:80]) for m in self.skipped[-8:]]}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def login(port: int, accts: dict, user: str, **kw) -> Client:
    c = Client(port, user, accts["accounts"][user]["password"], **kw)
    assert not c.refused, f"{user} could not connect: {c.rc}"
    return c


class V311Gateway:
    """A broker that speaks only MQTT 3.1.1, as some hall gateways do: a TCP relay to a real
    Mosquitto that refuses an MQTT 5 CONNECT with CONNACK 0x84 (unsupported protocol version) and
    passes every other connection through untouched."""

    def __init__(self, upstream_port: int):
        import socket
        import threading

        self.upstream_port = upstream_port
        self.refused_v5 = 0
        self.relayed = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._socket, self._threading = socket, threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        try:
            head = conn.recv(2)  # CONNECT's fixed header starts with its remaining length (varint)
            while head and head[-1] & 0x80:
                head += conn.recv(1)
            rest = b""
            while len(rest) < 7:  # protocol name (00 04 MQTT) and level
                chunk = conn.recv(7 - len(rest))
                if not chunk:
                    raise OSError("closed")
                rest += chunk
            if rest[6] == 5:
                self.refused_v5 += 1
                conn.sendall(bytes([0x20, 3, 0, 0x84, 0]))
                conn.close()
                return
            up = self._socket.create_connection(("127.0.0.1", self.upstream_port))
            up.sendall(head + rest)
            self.relayed += 1
            for a, b in ((conn, up), (up, conn)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()
        except OSError:
            conn.close()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()
