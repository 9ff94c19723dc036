"""The printed ticket: ESC/POS bytes checked byte-wise, sent to a file and to a TCP printer after
the 201; a dead printer never blocks issuing and is counted."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import generate_latest

from queued.channels.printing import render_ticket
from queued.errors import ConfigError
from tests.support import free_port

GS_K = b"\x1d(k"
PRINTING = ["queued.channels.printing:TicketPrinter"]


def qr_payload(data: bytes) -> bytes:
    """The text stored by the native QR command (GS ( k pL pH 1 P 0 data)."""
    store = data.index(b"1P0")  # cn=49 (QR), fn=80 (store the data), m=48
    head = store - 5
    assert data[head:head + 3] == GS_K
    length = data[head + 3] + 256 * data[head + 4] - 3
    return data[store + 3:store + 3 + length]


def test_slip_bytes():
    url = "https://hall.example.cn/m/t/abcDEF123"
    data = render_ticket(hall_name="高新区政务服务中心", business_name="综合受理", number="A012", ahead=3,
                         eta_seconds=301, issued_at="2026-11-16 10:00", url=url)
    assert data.startswith(b"\x1b@\x1c&")  # init, then the printer's Chinese (GBK) mode
    assert "高新区政务服务中心".encode("gbk") in data
    assert "综合受理".encode("gbk") in data
    assert b"\x1d!\x11A012\n" in data  # the number at double width and height
    assert "前面还有 3 人".encode("gbk") in data
    assert "预计等候约 6 分钟".encode("gbk") in data
    assert "取号时间：2026-11-16 10:00".encode("gbk") in data  # full-width colon survives as GBK
    assert b"?" not in data.replace(url.encode(), b"")
    centre = data.index(b"\x1ba\x01", data.index("取号时间".encode("gbk")))
    assert GS_K in data and centre < data.index(GS_K)  # the QR is centred by ESC a 1 before it
    assert qr_payload(data) == url.encode()
    assert data.endswith(b"\x1dV\x00")  # cut


async def test_kiosk_ticket_printed_to_file_after_issue(make_hall, tmp_path):
    out = tmp_path / "printer.bin"
    h = await make_hall(adapters=PRINTING, extra=f'\n[printer]\nurl = "file://{out}"\nwidth_chars = 48\n')
    r = await h.api.post("/api/v1/tickets", json={"business": "B"}, headers=h.tokens["kiosk"])
    assert r.status_code == 201
    tid = r.json()["id"]
    await h.api.post("/api/v1/tickets", json={"business": "A", "channel": "wechat", "openid": "o1"},
                     headers=h.tokens["kiosk"])
    for _ in range(200):
        if out.exists() and out.read_bytes().endswith(b"\x1dV\x00"):
            break
        await asyncio.sleep(0.01)
    data = out.read_bytes()
    assert "不动产登记".encode("gbk") in data and b"B001" in data
    assert "高新区政务服务中心".encode("gbk") in data
    assert qr_payload(data).endswith(f"/m/t/{tid}#k={r.json()['rating_key']}".encode())
    assert b"-" * 48 in data
    await asyncio.sleep(0.05)
    assert out.read_bytes().count(b"\x1dV\x00") == 1  # the WeChat ticket is not printed
    assert 'queued_print_jobs_total{result="ok"} 1.0' in generate_latest(h.daemon.metrics.registry).decode()


async def test_network_printer_receives_the_slip(make_hall):
    received = bytearray()
    done = asyncio.Event()

    async def printer(reader, writer):
        received.extend(await reader.read())
        writer.close()
        done.set()

    server = await asyncio.start_server(printer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        h = await make_hall(adapters=PRINTING, extra=f'\n[printer]\nurl = "tcp://127.0.0.1:{port}"\n')
        r = await h.api.post("/api/v1/tickets", json={"business": "A", "channel": "desk", "priority": "green"},
                             headers=h.tokens["admin"])
        assert r.status_code == 201
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
    assert b"A001" in received and "（绿色通道）".encode("gbk") in received


async def test_dead_printer_never_blocks_issuing(make_hall):
    port = free_port()  # nothing listens: every print fails
    h = await make_hall(adapters=PRINTING, extra=f'\n[printer]\nurl = "tcp://127.0.0.1:{port}"\n')
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(5):
        r = await h.api.post("/api/v1/tickets", json={"business": "A"}, headers=h.tokens["kiosk"])
        assert r.status_code == 201 and r.json()["number"] == f"A00{i + 1}"
    assert loop.time() - started < 1.0
    text = ""
    for _ in range(200):
        text = generate_latest(h.daemon.metrics.registry).decode()
        if 'queued_print_jobs_total{result="failed"} 5.0' in text:
            break
        await asyncio.sleep(0.01)
    assert 'queued_print_jobs_total{result="failed"} 5.0' in text


async def test_bad_printer_url_stops_the_start(make_hall):
    with pytest.raises(ConfigError, match="printer.url"):
        await make_hall(adapters=PRINTING, extra='\n[printer]\nurl = "lpt://1"\n')


async def test_serial_printer_over_a_pty(make_hall):
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    try:
        h = await make_hall(adapters=PRINTING,
                            extra=f'\n[printer]\nurl = "serial://{os.ttyname(slave)}?baudrate=19200"\n')
        await h.api.post("/api/v1/tickets", json={"business": "C"}, headers=h.tokens["kiosk"])
        got = b""
        for _ in range(300):
            try:
                got += os.read(master, 4096)
            except BlockingIOError:
                pass
            if got.endswith(b"\x1dV\x00"):
                break
            await asyncio.sleep(0.01)
        assert "社保医保".encode("gbk") in got and b"C001" in got
    finally:
        os.close(master)
        os.close(slave)


def test_slip_names_the_windows_and_an_honest_wait():
    data = render_ticket(hall_name="高新区政务服务中心", business_name="出入境证件办理", number="E001", ahead=0,
                         eta_seconds=290, issued_at="2026-11-16 10:00", url="", windows="4号、5号窗口")
    assert "您是下一位".encode("gbk") in data and "窗口正在办理，约 5 分钟后叫到您".encode("gbk") in data
    assert "前面还有 0 人".encode("gbk") not in data
    assert "办理窗口：4号、5号窗口".encode("gbk") in data
    assert GS_K not in data and "微信扫码".encode("gbk") not in data  # qr = false: no QR code, no words for one
