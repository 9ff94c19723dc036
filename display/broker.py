"""The embedded MQTT broker (amqtt), for a hall without its own: runs in the daemon's loop when the
configuration has no [mqtt] section, on [daemon] embedded_mqtt (QUEUED_EMBEDDED_MQTT).

amqtt speaks MQTT 3.1.1 only and never times out a silent client, which is why screens are
tracked by heartbeats. It binds exactly where it is told and runs no $SYS plugin.
"""

from __future__ import annotations

import errno
import logging
import socket

from display.errors import BrokerStartError

log = logging.getLogger("queued.display")

for _name in ("amqtt", "transitions"):  # they log every connection at INFO
    logging.getLogger(_name).setLevel(logging.WARNING)


def taken_message(host: str, port: int, why: str) -> str:
    return (f"cannot start the embedded MQTT broker on {host}:{port}: {why}. "
            f"A Mosquitto may already run there (it often does on 1883): set [daemon] embedded_mqtt "
            f"(or QUEUED_EMBEDDED_MQTT) to a free HOST:PORT, or add [mqtt] url = \"mqtt://{host}:{port}\" "
            f"to use that broker instead")


def check_free(host: str, port: int) -> None:
    """Fail with a clear message when the port is taken (amqtt's own error is a traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server will
        try:
            s.bind((host, port))
        except OSError as exc:
            why = "the port is already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise BrokerStartError(taken_message(host, port, why)) from None


def broker_config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 500}},
        # Only anonymous auth: no $SYS plugin, no packet logging.
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    """Adapter: starts before the display service (see queued/daemon.py ADAPTERS) and stops after it."""

    def __init__(self, daemon):
        self.config = daemon.config
        self.broker = None

    @property
    def enabled(self) -> bool:
        return self.config.mqtt_url is None

    async def start(self) -> None:
        if not self.enabled:
            return
        from amqtt.broker import Broker
        from amqtt.errors import BrokerError

        host, port = self.config.embedded_mqtt
        check_free(host, port)
        broker = Broker(broker_config(host, port))
        try:
            await broker.start()
        except BrokerError as exc:
            raise BrokerStartError(taken_message(host, port, str(exc.__cause__ or exc))) from None
        self.broker = broker
        log.info("embedded MQTT broker listening on %s:%d", host, port)

    async def stop(self) -> None:
        if self.broker is not None:
            broker, self.broker = self.broker, None
            try:
                await broker.shutdown()
            except Exception:
                log.exception("embedded MQTT broker did not shut down cleanly")
