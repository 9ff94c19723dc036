"""The daemon's own HTTP/1.1 client (queued/http11.py) against a real socket server: kept-alive
connections reused, chunked and close-delimited answers, and each failure told apart the way the
provincial push and the shipper need (never sent, or maybe received)."""

from __future__ import annotations

import asyncio

import pytest

from queued.http11 import ConnectFailed, Http11Client, HttpError


async def server(answers: list[bytes]):
    """A TCP server that reads one request per answer (up to the end of its headers and its
    Content-Length) and writes the next canned answer; b"" closes the connection instead."""
    seen = {"connections": 0, "requests": []}

    async def handle(reader, writer):
        seen["connections"] += 1
        try:
            while answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                seen["requests"].append((head, body))
                answer = answers.pop(0)
                if not answer:
                    writer.close()
                    return
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1], seen


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


async def test_a_kept_connection_serves_the_next_request_and_headers_go_along():
    srv, port, seen = await server([OK, OK])
    client = Http11Client("queued-test", {"Authorization": "Bearer t"})
    try:
        for n in range(2):
            status, body = await client.post(f"http://127.0.0.1:{port}/api/v1/ingest", b"x" * (n + 3),
                                             {"Content-Type": "application/json"})
            assert (status, body) == (200, b'{"ok":true}')
        assert seen["connections"] == 1  # kept alive
        head, body = seen["requests"][1]
        assert head.startswith(b"POST /api/v1/ingest HTTP/1.1\r\n") and body == b"xxxx"
        assert b"Authorization: Bearer t" in head and b"Content-Length: 4" in head
        assert b"User-Agent: queued-test" in head
    finally:
        await client.aclose()
        srv.close()


async def test_chunked_and_close_delimited_answers():
    chunked = b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    closing = b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n\xe6\x88\x90\xe5\x8a\x9f"
    srv, port, seen = await server([chunked, closing, OK])
    client = Http11Client()
    try:
        assert await client.post(f"http://127.0.0.1:{port}/a", b"1", {}) == (502, b"hello world")
        assert await client.post(f"http://127.0.0.1:{port}/a", b"2", {}) == (200, "成功".encode())
        assert await client.post(f"http://127.0.0.1:{port}/a", b"3", {}) == (200, b'{"ok":true}')
        assert seen["connections"] == 2  # the HTTP/1.0 answer closed its connection
    finally:
        await client.aclose()
        srv.close()


async def test_failures_say_whether_the_request_went_out():
    client = Http11Client()
    srv, port, _ = await server([])
    srv.close()
    await srv.wait_closed()
    with pytest.raises(ConnectFailed):  # refused: never sent, a plain retry
        await client.post(f"http://127.0.0.1:{port}/a", b"1", {})
    assert not client.written

    srv, port, _ = await server([b""])  # reads the request, then closes without an answer
    with pytest.raises(OSError) as cut:
        await client.post(f"http://127.0.0.1:{port}/a", b"1", {})
    assert not isinstance(cut.value, ConnectFailed) and client.written  # maybe received
    srv.close()

    srv, port, _ = await server([b"SMTP ready\r\n\r\n"])
    with pytest.raises(HttpError):
        await client.post(f"http://127.0.0.1:{port}/a", b"1", {})
    srv.close()
    with pytest.raises(HttpError):
        await client.post("ftp://127.0.0.1/a", b"1", {})


async def test_a_kept_connection_the_server_closed_is_replaced_without_an_error():
    """The server drops a kept connection just as the next request arrives on it (its idle
    timeout): nothing of an answer came, so the request goes once more on a fresh connection."""
    state = {"connections": 0, "requests": 0}

    async def handle(reader, writer):
        state["connections"] += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]))
                state["requests"] += 1
                if served == 1:  # the second request on this connection: dropped unanswered
                    writer.close()
                    return
                writer.write(OK)
                await writer.drain()
                served += 1
        except asyncio.IncompleteReadError:
            pass

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    client = Http11Client()
    try:
        assert await client.post(f"http://127.0.0.1:{port}/a", b"1", {}) == (200, b'{"ok":true}')
        assert await client.post(f"http://127.0.0.1:{port}/a", b"2", {}) == (200, b'{"ok":true}')
        assert state == {"connections": 2, "requests": 3}  # the dropped one, then the fresh one
    finally:
        await client.aclose()
        srv.close()
