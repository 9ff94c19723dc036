"""PINs: stored as salted hashes (never the PIN), set with `queued clerk set-pin` (the PIN from
stdin, never argv), and a lock-out per clerk and per address that a flood of made-up 工号 cannot
reset. Real SQLite, the real app, the real CLI."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import QUEUED, hall_toml

CLERK = ["queued.clerk.clerk:ClerkConsole"]


@pytest.fixture
async def hall(make_daemon):
    return await make_daemon(adapters=CLERK)


def client(d, address: str = "10.0.0.5") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app, client=(address, 40000)),
                             base_url="http://hall", headers={"Origin": "http://hall"})


async def pin_login(c, clerk="1001", pin="1001", window="1"):
    return await c.post("/clerk/login", json={"clerk": clerk, "pin": pin, "window": window})


def set_pin(config: Path, clerk: str, stdin: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([QUEUED, "clerk", "set-pin", "--clerk", clerk, "--config", str(config), *extra],
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_config_pins_are_hashed_as_the_file_is_read(tmp_path):
    from queued.config import parse_config

    cfg = parse_config(hall_toml(str(tmp_path / "h.sqlite3")), source="test")
    held = repr(vars(cfg))
    assert "'1001'" in held  # the 工号 is there…
    assert "pin = " not in held and not any(v == "1001" or v == "1002" for v in cfg.clerk_pin_hashes.values())
    h1, h2 = cfg.clerk_pin_hashes["1001"], cfg.clerk_pin_hashes["1002"]
    assert h1.startswith("scrypt$") and h1 != h2
    # …and the same PIN read twice hashes differently (salted).
    again = parse_config(hall_toml(str(tmp_path / "h.sqlite3")), source="test")
    assert again.clerk_pin_hashes["1001"] != h1


async def test_set_pin_stores_a_salted_hash_and_the_new_pin_works_at_once(hall, tmp_path):
    db = hall.config.database
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(db), encoding="utf-8")
    r = set_pin(conf, "1001", "482913\n")
    assert r.returncode == 0, r.stderr
    assert "482913" not in r.stdout + r.stderr
    r = set_pin(conf, "1002", "482913\n")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT clerk, hash FROM clerk_pins").fetchall())
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert set(rows) == {"1001", "1002"} and rows["1001"] != rows["1002"]  # same PIN, other salt
    assert all(h.startswith("scrypt$") and "482913" not in h for h in rows.values())
    for f in Path(db).parent.glob(Path(db).name + "*"):
        assert b"482913" not in f.read_bytes(), f
    async with client(hall) as c:
        assert (await pin_login(c, pin="1001")).status_code == 401  # the config's PIN is overridden
        r = await pin_login(c, pin="482913")
        assert r.status_code == 200 and r.json()["clerk"] == "1001"


def test_set_pin_refuses_a_pin_in_argv_an_unknown_clerk_and_a_short_pin(tmp_path):
    db = tmp_path / "h.sqlite3"
    conf = tmp_path / "hall.toml"
    conf.write_text(hall_toml(str(db)), encoding="utf-8")
    r = set_pin(conf, "1001", "", "--pin", "482913")
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr
    r = set_pin(conf, "9999", "482913\n")
    assert r.returncode == 2 and "unknown clerk" in r.stderr
    r = set_pin(conf, "1001", "12\n")
    assert r.returncode == 2 and "PIN" in r.stderr
    r = set_pin(conf, "1001", "")
    assert r.returncode == 2 and "PIN" in r.stderr


async def test_a_flood_of_made_up_ids_does_not_reset_a_clerks_lockout(hall):
    """Four wrong PINs for 1001, then 12,000 failures with invented 工号 (from one address and from
    thousands of others), then one more wrong PIN: 1001 is locked, even with the right PIN."""
    async with client(hall, "10.0.0.5") as c:
        for _ in range(4):
            assert (await pin_login(c, pin="0000")).status_code == 401
        async with client(hall, "10.0.0.66") as flooder:
            for i in range(2000):
                r = await pin_login(flooder, clerk=f"X{i}", pin="0000")
                assert r.status_code in (401, 429)
        flooder_last = r.status_code
        transport = httpx.ASGITransport(app=hall.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hall",
                                     headers={"Origin": "http://hall"}) as many:
            for i in range(10_000):
                transport.client = (f"10.{1 + i // 65536}.{i // 256 % 256}.{i % 256}", 40000)
                r = await pin_login(many, clerk=f"Y{i}", pin="0000")
                assert r.status_code == 401
        assert (await pin_login(c, pin="0000")).status_code == 401  # the fifth wrong PIN for 1001
        r = await pin_login(c)  # the right PIN, from its own PC: still locked
        assert r.status_code == 429 and "分钟后再试" in r.json()["error"]["message"]
        async with client(hall, "10.0.0.77") as elsewhere:  # from any other address too
            assert (await pin_login(elsewhere)).status_code == 429
    assert hall.runtime.engine.windows["1"].clerk is None
    assert flooder_last == 429  # and the flooding address had locked itself out long before
    clerks, addresses = hall.app.state.pins.lockout.sizes()
    assert clerks == 1 and addresses <= 4096  # memory bounded, whatever was made up


async def test_one_address_guessing_many_clerks_is_locked_and_others_are_not(hall, clock):
    async with client(hall, "10.0.0.9") as guesser, client(hall, "10.0.0.10") as colleague:
        for i in range(20):
            assert (await pin_login(guesser, clerk=f"{i:04d}", pin="0000")).status_code == 401
        r = await pin_login(guesser)  # a right PIN from the guessing address: locked
        assert r.status_code == 429
        r = await pin_login(colleague, clerk="1002", pin="1002", window="2")
        assert r.status_code == 200
        clock.advance(301)
        assert (await pin_login(guesser)).status_code == 200


async def test_repeated_locks_grow_longer(hall, clock):
    async with client(hall) as c:
        for _ in range(5):
            await pin_login(c, pin="0000")
        clock.advance(301)
        for _ in range(5):
            await pin_login(c, pin="0000")
        clock.advance(301)  # the second lock is 10 minutes
        assert (await pin_login(c)).status_code == 429
        clock.advance(300)
        assert (await pin_login(c)).status_code == 200
