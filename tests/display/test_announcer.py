"""`queued announcer` as a hall PC runs it: a real process, a real Mosquitto (restarted under it), a
real `queued serve` rendering the audio, and a player command that records what it was given."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from display.announcer import Announcer, parse_call
from tests.support import QUEUED, Mosquitto, ServeProcess, free_port, hall_toml, token

RECORDER = """
import sys, wave
path, ticket, window, log = sys.argv[1:5]
with wave.open(path) as w:
    seconds = w.getnframes() / w.getframerate()
with open(log, "a") as f:
    f.write(f"{ticket} {window} {seconds:.2f}\\n")
"""


def recorder(tmp_path: Path) -> tuple[str, Path]:
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    log = tmp_path / "played.log"
    return f"{sys.executable} {script} {{file}} {{ticket}} {{window}} {log}", log


def played(log: Path) -> list[tuple[str, str, float]]:
    if not log.exists():
        return []
    return [(t, w, float(s)) for t, w, s in (line.split() for line in log.read_text().splitlines())]


def wait_until(pred, timeout: float = 15.0, what: str = ""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout} s in vain for {what}")


class Hall:
    def __init__(self, base: str, db: str):
        self.base = base
        self.kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
        self.sup = {"Authorization": f"Bearer {token(db, 'supervisor')}"}
        self.clerks = {w: {"Authorization": f"Bearer {token(db, 'clerk', w)}"} for w in ("1", "2")}

    def issue(self, business: str) -> None:
        assert httpx.post(f"{self.base}/api/v1/tickets", json={"business": business}, headers=self.kiosk).status_code == 201

    def act(self, window: str, action: str) -> dict:
        r = httpx.post(f"{self.base}/api/v1/windows/{window}/{action}", headers=self.clerks[window])
        assert r.status_code == 200, r.text
        return r.json()

    def screen_online(self, screen_id: str) -> bool:
        r = httpx.get(f"{self.base}/api/v1/screens", headers=self.sup)
        return any(s["id"] == screen_id and s["online"] for s in r.json()["screens"])


@pytest.fixture
def keeping_broker():
    """A Mosquitto that keeps sessions across its restarts (persistence on, as docker/ ships it)."""
    broker = Mosquitto()
    data = Path(tempfile.mkdtemp(prefix="mosq-data-"))  # Mosquitto drops root for its own user
    shutil.chown(data, "mosquitto")
    broker.extra_conf = f"persistence true\npersistence_location {data}/\n"
    broker.start()
    yield broker
    broker.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def test_announcer_plays_calls_in_order_repeats_and_skips_stale_ones_after_a_broker_outage(tmp_path, keeping_broker):
    port = free_port()
    db = tmp_path / "hall.sqlite3"
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=port, mqtt_url=f"mqtt://127.0.0.1:{keeping_broker.port}"))
    base = f"http://127.0.0.1:{port}"
    serve = ServeProcess(conf, tmp_path).start(base)
    player, log = recorder(tmp_path)
    out = open(tmp_path / "announcer.out", "wb")
    announcer = subprocess.Popen([QUEUED, "announcer", "--url", f"mqtt://127.0.0.1:{keeping_broker.port}",
                                  "--daemon", base, "--screen-id", "speakers-1", "--player", player,
                                  "--max-age", "3", "--gap", "0.1"], stdout=out, stderr=subprocess.STDOUT)
    hall = Hall(base, str(db))
    try:
        wait_until(lambda: hall.screen_online("speakers-1"), what="the announcer's heartbeat")
        for business in ("A", "B", "A", "A", "A", "A"):
            hall.issue(business)
        hall.act("1", "call-next")  # A001 (window 1 prefers A)
        hall.act("2", "call-next")  # B001 (window 2 prefers B)
        hall.act("1", "finish")
        hall.act("1", "call-next")  # A002
        wait_until(lambda: len(played(log)) >= 6, what="three calls said twice")
        assert [(t, w) for t, w, _ in played(log)] == [("A001", "1"), ("A001", "1"), ("B001", "2"), ("B001", "2"),
                                                      ("A002", "1"), ("A002", "1")]
        assert all(2.5 < s < 8 for _, _, s in played(log))  # the daemon's espeak-ng WAV, not an empty file

        keeping_broker.stop()  # the broker goes away; the daemon keeps the calls it could not send
        hall.act("1", "finish")
        hall.act("1", "call-next")  # A003
        hall.act("2", "finish")
        hall.act("2", "call-next")  # A004
        time.sleep(4.5)  # longer than --max-age
        keeping_broker.start()
        text = wait_until(lambda: (t := (tmp_path / "announcer.out").read_text()).count("跳过") >= 2 and t,
                          timeout=20, what="the stale calls to arrive and be skipped")
        assert "跳过 A003 → 1" in text and "跳过 A004 → 2" in text
        hall.act("1", "finish")
        hall.act("1", "call-next")  # A005: fresh, said again
        wait_until(lambda: len(played(log)) >= 8, what="the call after the outage")
        time.sleep(0.5)
        assert [(t, w) for t, w, _ in played(log)][6:] == [("A005", "1"), ("A005", "1")]
        assert wait_until(lambda: hall.screen_online("speakers-1"), what="the heartbeat after the outage")
    finally:
        announcer.terminate()
        announcer.wait(10)
        out.close()
        serve.stop()


def test_announcer_finds_its_account_on_the_embedded_broker(tmp_path):
    """No options but --config: the `announcer` display account, the broker and the daemon's address
    come from the daemon's state."""
    port = free_port()
    db = tmp_path / "hall.sqlite3"
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=port, hall_extra="announce_repeat = 1"))
    base = f"http://127.0.0.1:{port}"
    serve = ServeProcess(conf, tmp_path).start(base)
    player, log = recorder(tmp_path)
    announcer = subprocess.Popen([QUEUED, "announcer", "--config", str(conf), "--player", player],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    hall = Hall(base, str(db))
    try:
        wait_until(lambda: hall.screen_online("announcer"), what="the announcer's heartbeat")
        hall.issue("A")
        hall.act("1", "call-next")
        wait_until(lambda: played(log), what="the call")
        time.sleep(1.0)
        assert [(t, w) for t, w, _ in played(log)] == [("A001", "1")]  # announce_repeat = 1, from the message
    finally:
        announcer.terminate()
        announcer.wait(10)
        serve.stop()


def call(**kw) -> bytes:
    msg = {"v": 1, "hall": "main", "window": "3", "ticket": "A001", "kind": "call", "speech": "请A001号到3号窗口办理",
           "audio": "/audio/calls/0123456789abcdef.wav", "repeat": 2, "at": "2026-11-21T09:30:01.123+08:00"}
    msg.update(kw)
    return json.dumps({k: v for k, v in msg.items() if v is not None}, ensure_ascii=False).encode()


def test_hostile_calls_are_ignored():
    a = Announcer("mqtt://127.0.0.1:1", "queued", "main", "http://127.0.0.1:1", "t", "true")
    topic = "queued/main/calls"
    assert a.handle(topic, call())
    assert not a.handle(topic, call())  # delivered twice (QoS 1)
    assert not a.handle(topic, b"garbage")
    assert not a.handle(topic, call(hall="other"))
    assert not a.handle(topic, call(kind="shout", at="2026-11-21T09:30:02+08:00"))
    assert not a.handle(topic, call(at="yesterday"))
    assert not a.handle(topic, call(ticket=None, at="2026-11-21T09:30:03+08:00"))
    assert not a.handle(topic, b"{" * 100_000)
    assert not a.handle("queued/main/board", call(at="2026-11-21T09:30:04+08:00"))
    # Only the daemon's own audio paths are fetched; anything else falls back to local speech.
    odd = parse_call(call(audio="http://evil.example/x.wav"), "main")
    assert odd is not None and odd.audio is None
    assert parse_call(call(audio="/audio/calls/../../etc/passwd"), "main").audio is None
    assert parse_call(call(repeat=99), "main").repeat is None
    assert len(a.queue) == 1
