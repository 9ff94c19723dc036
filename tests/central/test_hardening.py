"""A real `queued central serve` against what one hostile client (or a broken hall) can do: a taken
port, bodies too big to hold, requests that never finish, a cross-site sign-out, the same error on
every request, a shell's default fd limit; and ingest batches PostgreSQL or the projections cannot
take, refused whole with a clear 4xx and nothing of them stored."""

from __future__ import annotations

import asyncio
import json
import re
import resource
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.central.conftest import write_config
from tests.central.test_ingest import JSON, body, ev, make_token, stored
from tests.security.test_process_limits import closed_within, floods, status_line
from tests.support import QUEUED

MiB = 1024 * 1024


@pytest.fixture
def served(central_process):
    central = central_process().start()
    return central, {"Authorization": f"Bearer {central.token('--hall', 'h1')}", "Content-Type": "application/json"}


def test_a_taken_port_ends_the_service_at_once_naming_the_address(tmp_path, central_url):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        conf = write_config(tmp_path / "central.toml", central_url, port)
        t0 = time.monotonic()
        try:
            out = subprocess.run([QUEUED, "central", "serve", "--config", str(conf)], capture_output=True, text=True,
                                 timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("queued central serve still runs 20 s after its port was found taken")
    assert time.monotonic() - t0 < 10
    assert out.returncode != 0
    assert f"127.0.0.1:{port}" in out.stderr and "[central] http" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_bodies_over_the_limit_are_refused_while_read(served):
    central, h = served
    port = central.port
    with socket.create_connection(("127.0.0.1", port)) as s:  # declared: refused before a byte of it
        s.sendall(f"POST /api/v1/ingest HTTP/1.1\r\nHost: central\r\nAuthorization: {h['Authorization']}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {100 * MiB}\r\n\r\n".encode())
        assert status_line(s, 3).startswith(b"HTTP/1.1 413")
    # chunked: counted as it arrives, cut off at 16 MiB
    sent, statuses, grew = floods(port, f"POST /api/v1/ingest HTTP/1.1\r\nHost: central\r\nAuthorization: "
                                  f"{h['Authorization']}\r\nContent-Type: application/json\r\n".encode(),
                                  central.proc.pid, 4)
    assert all(n < 100 * MiB for n in sent), sent
    assert all(s.startswith(b"HTTP/1.1 413") or s in (b"", b"closed") for s in statuses), statuses
    assert grew < 160 * 1024, f"RSS grew by {grew // 1024} MiB"
    assert httpx.get(central.url + "/healthz", timeout=2).status_code == 200


def test_requests_that_stall_get_408_and_are_dropped(served):
    central, h = served
    port = central.port
    silent = socket.create_connection(("127.0.0.1", port))
    in_headers = socket.create_connection(("127.0.0.1", port))
    in_headers.sendall(b"GET /healthz HTTP/1.1\r\nHost: central\r\nX-Slow: ")
    in_body = socket.create_connection(("127.0.0.1", port))
    in_body.sendall(f"POST /api/v1/ingest HTTP/1.1\r\nHost: central\r\nAuthorization: {h['Authorization']}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"hall".encode())
    results = {}
    threads = [threading.Thread(target=lambda n=n, s=s: results.__setitem__(n, closed_within(s, 20)))
               for n, s in (("silent", silent), ("headers", in_headers))]
    for t in threads:
        t.start()
    assert status_line(in_body, 20).startswith(b"HTTP/1.1 408")
    for t in threads:
        t.join()
    for s in (silent, in_headers, in_body):
        s.close()
    assert all(v is not None and v < 15 for v in results.values()), results
    assert httpx.get(central.url + "/healthz", timeout=2).status_code == 200
    assert "queued_http_slow_requests_dropped_total 3.0" in httpx.get(central.url + "/metrics").text


def test_the_service_raises_its_fd_limit(central_process):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"the hard fd limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # what a default shell gives it
    try:
        central = central_process().start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    limits = Path(f"/proc/{central.proc.pid}/limits").read_text()
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    assert int(line.split()[3]) > 4096, line


def test_cross_site_sign_in_and_sign_out_are_refused(central_process):
    central = central_process().start()
    supervisor = central.token("--role", "supervisor")
    base = central.url
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"},
                        {"Referer": "http://evil.example/city/login"}):
            r = c.post("/city/login", data={"token": supervisor}, headers={**headers, "Accept": "text/html"})
            assert r.status_code == 403 and "qc_city" not in r.headers.get("set-cookie", ""), headers
            assert "请求来源不明" in r.text and "本系统" in r.text and "大厅" not in r.text
        r = c.post("/city/login", data={"token": supervisor}, headers={"Origin": base})
        assert r.status_code == 303 and "qc_city" in r.headers["set-cookie"]
        assert c.get("/city").status_code == 200  # signed in (the cookie rides along)
        r = c.post("/city/logout", headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = c.post("/city/logout")  # no Origin nor Referer, but a cookie: refused too
        assert r.status_code == 403
        assert c.get("/city").status_code == 200  # still signed in: nothing changed
        assert c.post("/city/logout", headers={"Origin": base}).status_code == 303
        assert c.get("/city").status_code == 303


def test_an_error_on_every_request_is_logged_once_with_a_count(central_process, central_url):
    central = central_process().start()
    sup = {"Authorization": f"Bearer {central.token('--role', 'supervisor')}"}
    assert httpx.get(central.url + "/api/v1/halls", headers=sup).status_code == 200

    async def break_it():
        conn = await asyncpg.connect(central_url)
        await conn.execute("DROP TABLE halls CASCADE")  # every /api/v1/halls now fails in the same place
        await conn.close()

    asyncio.run(break_it())
    with httpx.Client() as c:
        for _ in range(30):
            r = c.get(central.url + "/api/v1/halls", headers=sup)
            assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
            assert "halls" not in r.json()["error"]["message"]  # no SQL told to the client
    central.stop(signal.SIGTERM)
    log = central.log.read_text()
    assert log.count("Traceback") == 1, log[-3000:]
    assert re.search(r"unhandled error on GET /api/v1/halls \(repeated 29 times", log), log[-3000:]


# ---- ingest: malformed batches, in-process against the real app and PostgreSQL -------------------------


def nested(depth: int):
    v = 1
    for _ in range(depth):
        v = {"x": v}
    return v


async def test_batches_pg_or_the_projections_cannot_take_are_refused_whole(central_client, central_app):
    _, pool = central_app
    h = {**await make_token(pool, "hall", "h1"), **JSON}
    ok = ev(1)
    deep = (b'{"hall": "h1", "events": [' + json.dumps(ok).encode() + b', {"seq": 2, "day": "2026-11-02", "at": 1.0,'
            b' "kind": "ticket_issued", "data": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}]}")
    cases = {
        "deep data": body([ok, ev(2, note=nested(20))]),
        "very deep data": deep,
        "deep profile": body([ok], profile={"names": nested(40)}),
        "lone surrogate": body([ok, ev(2, comment="\ud800")]),
        "lone low surrogate in a key": body([ok, ev(2, extra={"\udc00": 1})]),
        "lone surrogate in a list": body([ok, ev(2, tags=["a", "\udbff"])]),
        "NaN": body([ok, ev(2, wait_s=12345.5)]).replace(b"12345.5", b"NaN"),
        "Infinity": body([ok, ev(2, wait_s=12345.5)]).replace(b"12345.5", b"-Infinity"),
        "a float beyond range": body([ok, ev(2, wait_s=12345.5)]).replace(b"12345.5", b"1e400"),
        "an integer beyond 64 bits": body([ok, ev(2, serial=2**70)]),
        "data not an object": body([ok, {**ev(2), "data": "x"}]),
        "seq a string": body([ok, {**ev(2), "seq": "2"}]),
        "at a bool": body([ok, {**ev(2), "at": True}]),
        "hall id too long": body([ok], hall="h" * 65),
        "hall id with a control character": body([ok], hall="h1\n"),
        "hall not a string": body([ok], hall=1),
        "head below the batch": body([ok, ev(2)], head=1),
        "too many events": body([ev(i) for i in range(1, 5002)]),
    }
    for name, raw in cases.items():
        r = await central_client.post("/api/v1/ingest", content=raw, headers=h)
        assert r.status_code == 422, (name, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "invalid_request" and r.json()["error"]["message"], name
    r = await central_client.post("/api/v1/ingest", content=body([ok], hall="h2"), headers=h)
    assert r.status_code == 403 and "h2" in r.json()["error"]["message"]  # h1's token, h2's id
    r = await central_client.post("/api/v1/ingest", content=b"[" + b" " * (17 * MiB) + b"]", headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert await stored(pool) == []
    assert await pool.fetchval("SELECT count(*) FROM tickets") == 0
    assert await pool.fetchval("SELECT last_seq FROM halls WHERE id = 'h1'") == 0
    # What looks alike but is fine: an escaped surrogate pair (an emoji), nesting within the limit.
    fine = body([ok, ev(2, comment="办好了😀", note=nested(10))], head=5)
    assert b"\\ud83d\\ude00" in fine
    r = await central_client.post("/api/v1/ingest", content=fine, headers=h)
    assert r.status_code == 200, r.text
    rows = await stored(pool)
    assert [s for s, _, _ in rows] == [1, 2] and rows[1][2]["comment"] == "办好了😀"
