"""A real `queued serve` against what one hostile client on the LAN can do to the process: a taken
port, bodies too big to hold, requests that never finish, more sockets than the default fd limit.
And the deployment files that set the process limits."""

from __future__ import annotations

import resource
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import QUEUED, ROOT, hall_toml, serve_hall, token

MiB = 1024 * 1024


@pytest.fixture
def served(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    yield proc, base, db
    proc.stop()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def status_line(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def closed_within(sock: socket.socket, timeout: float) -> float | None:
    """Seconds until the server closed the connection (reading whatever it sent), None if it did not."""
    t0 = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - t0 < timeout:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0
    return None


def chunked_flood(port: int, head: bytes, total: int = 100 * MiB) -> tuple[int, bytes]:
    """Send `head` (request line and headers) and then a chunked body of `total` bytes, until the
    server stops reading; (bytes sent, the status line it answered or b"closed")."""
    chunk = b"%x\r\n" % MiB + b" " * MiB + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
        s.settimeout(10)
        try:
            while sent < total:
                s.sendall(chunk)
                sent += MiB
        except OSError:
            pass  # the server stopped reading and closed: what we want
        try:
            return sent, status_line(s, 5)
        except OSError:
            return sent, b"closed"


def test_a_taken_http_port_ends_the_daemon_with_the_address(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        conf = tmp_path / "hall.toml"
        conf.write_text(hall_toml(str(tmp_path / "hall.sqlite3"), http_port=port), encoding="utf-8")
        t0 = time.monotonic()
        try:
            proc = subprocess.run([QUEUED, "serve", "--config", str(conf)], capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("queued serve still runs 15 s after its HTTP port was found taken")
    assert time.monotonic() - t0 < 10
    assert proc.returncode != 0
    assert f"127.0.0.1:{port}" in proc.stderr and "QUEUED_HTTP" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_huge_content_length_is_refused_before_the_body(served):
    _, base, db = served
    kiosk = token(db, "kiosk")
    with socket.create_connection(("127.0.0.1", port_of(base))) as s:
        s.sendall(f"POST /api/v1/tickets HTTP/1.1\r\nHost: hall\r\nAuthorization: Bearer {kiosk}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {100 * MiB}\r\n\r\n".encode())
        assert status_line(s, 3).startswith(b"HTTP/1.1 413")


def floods(port: int, head: bytes, pid: int, n: int) -> tuple[list[int], list[bytes], int]:
    """`n` chunked floods at once (chunked_flood): what each sent, what each was answered, and how
    far the server's RSS grew meanwhile (KiB)."""
    before = rss_kib(pid)
    sent: list[int] = []
    statuses: list[bytes] = []
    peak = before

    def flood():
        k, status = chunked_flood(port, head)
        sent.append(k)
        statuses.append(status)

    threads = [threading.Thread(target=flood) for _ in range(n)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_kib(pid))
        time.sleep(0.05)
    return sent, statuses, peak - before


def test_chunked_floods_are_cut_off_and_never_held(served):
    proc, base, db = served
    kiosk = token(db, "kiosk")
    sent, statuses, grew = floods(port_of(base), f"POST /api/v1/tickets HTTP/1.1\r\nHost: hall\r\nAuthorization: "
                                  f"Bearer {kiosk}\r\nContent-Type: application/json\r\n".encode(), proc.proc.pid, 8)
    assert grew < 64 * 1024, f"RSS grew by {grew // 1024} MiB"
    assert all(n < 100 * MiB for n in sent), sent
    assert all(s.startswith(b"HTTP/1.1 413") or s in (b"", b"closed") for s in statuses), statuses
    assert httpx.get(base + "/healthz", timeout=2).status_code == 200


def test_requests_that_stall_are_dropped_within_seconds(served):
    _, base, _ = served
    port = port_of(base)
    silent = socket.create_connection(("127.0.0.1", port))
    in_headers = socket.create_connection(("127.0.0.1", port))
    in_headers.sendall(b"GET /healthz HTTP/1.1\r\nHost: hall\r\nX-Slow: ")
    in_body = socket.create_connection(("127.0.0.1", port))
    in_body.sendall(b"POST /api/v1/tickets HTTP/1.1\r\nHost: hall\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{\"busi")
    results = {}

    def watch(name, sock):
        results[name] = closed_within(sock, 20)

    threads = [threading.Thread(target=watch, args=item) for item in
               (("silent", silent), ("headers", in_headers), ("body", in_body))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in (silent, in_headers, in_body):
        s.close()
    assert all(v is not None and v < 15 for v in results.values()), results
    assert httpx.get(base + "/healthz", timeout=2).status_code == 200


def test_healthz_answers_with_1100_stalled_sockets_open(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"the hard fd limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # what a default shell gives the daemon
    try:
        proc, base, _ = serve_hall(tmp_path)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    socks = []
    try:
        limits = Path(f"/proc/{proc.proc.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        assert int(line.split()[3]) > 4096, line  # the daemon raised its own soft limit
        for _ in range(1100):
            s = socket.create_connection(("127.0.0.1", port_of(base)))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: hall\r\n")  # and never the blank line
            socks.append(s)
        t0 = time.monotonic()
        r = httpx.get(base + "/healthz", timeout=3)
        assert r.status_code == 200 and time.monotonic() - t0 < 2
    finally:
        for s in socks:
            s.close()
        proc.stop()


def test_the_deployments_raise_the_fd_limit_and_rotate_logs():
    unit = (ROOT / "deploy" / "queued.service").read_text(encoding="utf-8")
    nofile = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("LimitNOFILE=")]
    assert nofile and int(nofile[0]) >= 65536
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    queued = compose["services"]["queued"]
    assert queued["ulimits"]["nofile"]["soft"] >= 65536 and queued["ulimits"]["nofile"]["hard"] >= 65536
    for name, service in compose["services"].items():
        logging = service.get("logging") or {}
        assert logging.get("driver") == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 2, name


def test_a_request_body_over_the_limit_is_refused_on_every_route(served):
    """Forms too: the limit is the server's, not each JSON reader's."""
    _, base, _ = served
    big = "x" * (65 * 1024)
    for path in ("/kiosk/login", "/admin/login", "/api/v1/tickets"):
        r = httpx.post(base + path, content=big, headers={"Content-Type": "application/x-www-form-urlencoded"},
                       timeout=5)
        assert r.status_code == 413, (path, r.status_code, r.text[:200])

