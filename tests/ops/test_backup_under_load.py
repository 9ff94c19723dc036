"""`queued backup` against a real `queued serve` taking tickets from concurrent clients: every ticket
acknowledged (201) before the backup started is in the copy, the copy is sound, and a daemon
started on the copy serves those tickets."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time

import httpx

from tests.support import QUEUED, ServeProcess, free_port, hall_toml, token

CLIENTS = 8


def test_backup_during_ticket_load_restores_every_acknowledged_ticket(tmp_path):
    live_dir, restored_dir = tmp_path / "live", tmp_path / "restored"
    live_dir.mkdir()
    restored_dir.mkdir()
    port = free_port()
    db = live_dir / "hall.sqlite3"
    conf = live_dir / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=port), encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    live = ServeProcess(conf, live_dir).start(base)
    try:
        kiosk = {"Authorization": f"Bearer {token(str(db), 'kiosk')}"}
        acked: list[tuple[float, str, str]] = []  # (monotonic time the 201 arrived, id, number)
        failures: list[str] = []
        stop = threading.Event()

        def load(business: str) -> None:
            with httpx.Client(base_url=base, headers=kiosk, timeout=10) as c:
                while not stop.is_set():
                    r = c.post("/api/v1/tickets", json={"business": business, "channel": "kiosk"})
                    if r.status_code != 201:
                        failures.append(f"{r.status_code} {r.text}")
                        return
                    body = r.json()
                    acked.append((time.monotonic(), body["id"], body["number"]))

        threads = [threading.Thread(target=load, args=("AB"[i % 2],)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        while len(acked) < 300 and not failures:
            time.sleep(0.01)

        copy = tmp_path / "backup.sqlite3"
        started = time.monotonic()
        out = subprocess.run([QUEUED, "backup", str(copy), "--config", str(conf)], cwd=live_dir,
                             capture_output=True, text=True, timeout=60)
        finished = time.monotonic()
        while sum(1 for at, _, _ in acked if at > finished) < 50 and not failures:
            time.sleep(0.01)  # the load went on after the backup too
        stop.set()
        for t in threads:
            t.join(10)
        assert not failures, failures[:3]
        assert out.returncode == 0, out.stderr
        assert f"backed up {db} to {copy}" in out.stdout
        assert not (tmp_path / "backup.sqlite3.part").exists()
    finally:
        live.stop()

    before = {tid: number for at, tid, number in acked if at < started}
    during = [tid for at, tid, _ in acked if started <= at <= finished]
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_copy = dict(conn.execute("SELECT id, number FROM tickets").fetchall())
    finally:
        conn.close()
    assert len(before) >= 300
    missing = [tid for tid in before if tid not in in_copy]
    assert not missing, f"{len(missing)} acknowledged tickets missing from the backup"
    assert all(in_copy[tid] == number for tid, number in before.items())
    print(f"backup: {len(before)} tickets acknowledged before, {len(during)} during "
          f"({finished - started:.3f} s), {len(in_copy)} in the copy")

    # Restore: a daemon started on the copy (stop, copy, start) serves the acknowledged tickets.
    restored_db = restored_dir / "hall.sqlite3"
    restored_db.write_bytes(copy.read_bytes())
    port2 = free_port()
    conf2 = restored_dir / "hall.toml"
    conf2.write_text(hall_toml(str(restored_db), http_port=port2), encoding="utf-8")
    base2 = f"http://127.0.0.1:{port2}"
    restored = ServeProcess(conf2, restored_dir).start(base2)
    try:
        with httpx.Client(base_url=base2, timeout=10) as c:
            for tid, number in before.items():
                r = c.get(f"/api/v1/tickets/{tid}")
                assert r.status_code == 200 and r.json()["number"] == number, r.text
            # New tickets continue the day's numbering instead of reissuing a number.
            kiosk2 = {"Authorization": f"Bearer {token(str(restored_db), 'kiosk')}"}
            new = c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk2).json()["number"]
            assert new not in set(in_copy.values())
    finally:
        restored.stop()
