"""The embedded MQTT broker: with no [mqtt] section the daemon runs and supervises its own
Mosquitto (the distribution's `mosquitto` program) on [daemon] embedded_mqtt, with generated
accounts and the ACL of mqtt.md 1.1 "Access" (config.md 1.1).

- `queued.broker.accounts`: who may connect, their passwords (kept beside the database, 0600),
  Mosquitto's password file; how tools on the same host find their account.
- `queued.broker.files`: the broker's configuration and ACL.
- `queued.broker.process`: the supervised child process.

The adapter starts before the screens and pads that connect to it and stops after them.
"""

from __future__ import annotations

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from queued.broker import accounts as acc
from queued.broker.errors import BrokerStartError
from queued.broker.files import acl_text, conf_text
from queued.broker.process import MosquittoProcess, check_free, end_leftover, find_binary

__all__ = ["EmbeddedBroker", "BrokerStartError", "daemon_login"]

log = logging.getLogger("queued.broker")


def embedded_url(config) -> str:
    host, port = config.embedded_mqtt
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    return f"mqtt://{host}:{port}"


class BrokerCollector:
    def __init__(self, broker: EmbeddedBroker):
        self.broker = broker

    def collect(self):
        p = self.broker.process
        up = GaugeMetricFamily("queued_broker_running", "1 while the embedded Mosquitto runs (absent: external broker)")
        restarts = CounterMetricFamily("queued_broker_restarts", "Times the embedded Mosquitto was started again "
                                       "after it died")
        if p is not None:
            up.add_metric([], 1 if p.running else 0)
            restarts.add_metric([], p.restarts)
        yield up
        yield restarts


class EmbeddedBroker:
    """Adapter (queued/daemon.py ADAPTERS): does nothing when the configuration names a broker."""

    def __init__(self, daemon):
        self.config = daemon.config
        self.directory = acc.broker_dir(self.config.database)
        self.accounts: dict[str, acc.Account] = {}
        self.process: MosquittoProcess | None = None
        if self.enabled:
            daemon.metrics.registry.register(BrokerCollector(self))

    @property
    def enabled(self) -> bool:
        return self.config.mqtt_url is None

    def login(self, name: str) -> tuple[str, str]:
        """(username, password) of one of the broker's accounts (written on first use)."""
        if not self.accounts:
            self.accounts = acc.ensure(self.directory, self.config, embedded_url(self.config))
        return name, self.accounts[name].password

    async def start(self) -> None:
        if not self.enabled:
            return
        binary = find_binary()
        host, port = self.config.embedded_mqtt
        d = self.directory
        conf = d / "mosquitto.conf"
        end_leftover(d / "mosquitto.pid", conf)
        check_free(host, port)
        self.accounts = acc.ensure(d, self.config, embedded_url(self.config))
        acc.write_private(d / "passwd", acc.password_file(self.accounts))
        acc.write_private(d / "acl", acl_text(self.accounts, self.config.mqtt_prefix, self.config.hall.id))
        acc.write_private(conf, conf_text(d, host, port))
        self.process = MosquittoProcess(binary, conf, host, port, d / "mosquitto.pid")
        await self.process.start()
        log.info("embedded MQTT broker (Mosquitto) on %s:%d; accounts in %s", host, port, d / acc.ACCOUNTS_FILE)

    async def stop(self) -> None:
        if self.process is not None:
            process, self.process = self.process, None
            await process.stop()


def daemon_login(daemon, link: str = acc.DAEMON) -> tuple[str, str]:
    """The (username, password) a daemon's own MQTT link uses: the configured ones for an external
    broker, else the embedded broker's account `link` (`queued` for screens, `queued-pads`)."""
    cfg = daemon.config
    if cfg.mqtt_url:
        if link == acc.DAEMON_PADS and cfg.mqtt_pads_username:
            return cfg.mqtt_pads_username, cfg.mqtt_password
        return cfg.mqtt_username, cfg.mqtt_password
    broker = daemon.adapter("EmbeddedBroker")
    if broker is None:
        return "", ""
    return broker.login(link)
