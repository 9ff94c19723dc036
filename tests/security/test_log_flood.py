"""One client repeating a request that fails must not fill the disk with tracebacks: a real
`queued serve` logs the error once, with its traceback, and then how often it repeated."""

from __future__ import annotations

import re
import sqlite3

import httpx

from tests.support import serve_hall


def test_the_same_error_repeating_is_logged_once_with_a_count(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    try:
        # A broken report table (a botched manual repair): every /results request fails the same way.
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE rating_exclusions")
        start = proc.log.stat().st_size
        with httpx.Client(base_url=base, timeout=5) as http:
            replies = [http.get("/results", params={"month": "2026-11"}) for _ in range(200)]
            assert [r.status_code for r in replies] == [500] * 200
            assert http.get("/healthz").status_code == 200
    finally:
        proc.stop()
    log = proc.log.read_bytes()[start:].decode("utf-8", "replace")
    assert len(log) < 16 * 1024, f"{len(log)} bytes of log for 200 identical errors"
    assert log.count("Traceback") == 1
    counts = [int(n) for n in re.findall(r"repeated (\d+) times", log)]
    assert sum(counts) == 199, log[-2000:]  # all but the first, which was logged whole
