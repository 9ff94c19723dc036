"""Files only the daemon's user may read: the database, its -wal and -shm, the session secret and
backups are created 0600, whatever the umask of whoever started the command. Real processes: the
`queued` CLI and a real `queued serve`."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import QUEUED, ServeProcess, free_port, hall_toml


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """Start every process of the test with umask 000: nothing may rely on a strict umask."""
    old = os.umask(0)
    yield
    os.umask(old)


def run(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([QUEUED, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def test_database_wal_shm_secret_and_backups_are_0600(tmp_path, open_umask):
    db = tmp_path / "hall.sqlite3"
    port = free_port()
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db), http_port=port), encoding="utf-8")
    # The first command may be `queued token create`, before the daemon ever ran: it creates the file.
    kiosk = run("token", "create", "--role", "kiosk", "--config", str(conf)).stdout.strip().splitlines()[-1]
    assert mode(db) == 0o600
    base = f"http://127.0.0.1:{port}"
    proc = ServeProcess(conf, tmp_path).start(base)
    try:
        for _ in range(3):
            r = httpx.post(f"{base}/api/v1/tickets", json={"business": "A"},
                           headers={"Authorization": f"Bearer {kiosk}"})
            assert r.status_code == 201
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}.secret")]
        for f in files:
            assert f.exists(), f
            assert mode(f) == 0o600, (f, oct(mode(f)))
        backup = tmp_path / "nightly.sqlite3"
        run("backup", str(backup), "--config", str(conf))
        assert mode(backup) == 0o600, oct(mode(backup))
        assert not Path(f"{backup}.part").exists()
    finally:
        proc.stop()


def test_an_existing_world_readable_database_is_narrowed_at_start(tmp_path, open_umask):
    db = tmp_path / "hall.sqlite3"
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db)), encoding="utf-8")
    run("token", "create", "--role", "kiosk", "--config", str(conf))
    os.chmod(db, 0o644)  # as an older version (or a careless copy) left it
    run("token", "list", "--config", str(conf))
    assert mode(db) & 0o007 == 0
