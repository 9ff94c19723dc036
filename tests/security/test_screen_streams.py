"""/events/screen (the waiting-area screens' SSE stream) against one client that opens as many
streams as it can: the hall's real screens, with a token or from their own address, still connect."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter

import pytest

from tests.support import serve_hall, token


@pytest.fixture
def served(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    yield proc, base, db
    proc.stop()


def open_stream(port: int, path: str = "/events/screen", source: str = "127.0.0.1") -> tuple[socket.socket, bytes]:
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: hall\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0


def test_anonymous_streams_cannot_lock_the_real_screens_out(served):
    _, base, db = served
    port = int(base.rsplit(":", 1)[1])
    flood = [open_stream(port) for _ in range(200)]
    try:
        codes = Counter(status(head) for _, head in flood)
        assert codes[200] <= 8, codes  # one address gets a few streams, not the hall's whole allowance
        assert set(codes) <= {200, 429}, codes
        sock, head = next((s, head) for s, head in flood if status(head) == 429)
        body = head.split(b"\r\n\r\n", 1)[1]
        while len(body) < int(re.search(rb"content-length: (\d+)", head).group(1)):
            body += sock.recv(4096)
        assert json.loads(body)["error"]["code"] == "too_many_streams" and "屏幕" in json.loads(body)["error"]["message"]

        screen_token = token(db, "kiosk")
        s1, head = open_stream(port, f"/events/screen?token={screen_token}")
        assert status(head) == 200 and b"text/event-stream" in head
        s2, head = open_stream(port, source="127.0.0.2")  # another screen PC, no token
        assert status(head) == 200 and b"text/event-stream" in head
        s3, head = open_stream(port, "/events/screen?token=qd_not-a-token")
        assert status(head) == 401
        for s in (s1, s2, s3):
            s.close()
    finally:
        for s, _ in flood:
            s.close()
