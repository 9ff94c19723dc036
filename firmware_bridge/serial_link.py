"""Opening the byte link under a poller or an emulator.

``port`` is either a pyserial URL or device path (``/dev/ttyUSB0``, ``/dev/pts/5``, ``socket://h:p``,
``rfc2217://...``), opened through serial_asyncio_fast, or an already-open file descriptor (int): the
master side of a pty pair, which has no path of its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import serial
import serial_asyncio_fast

from .errors import PortError


class _FdTransport(asyncio.Transport):
    """A transport over a non-blocking fd (a pty master): the minimum a bus needs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._loop = loop
        self._fd = fd
        self._protocol = protocol
        self._pending = bytearray()
        self._closing = False
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._read_ready)
        loop.call_soon(protocol.connection_made, self)

    def _read_ready(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: nobody holds the other end open any more
            self._close(exc)
            return
        if data:
            self._protocol.data_received(data)
        else:
            self._close(None)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        if self._pending:
            self._pending += data
            return
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._close(exc)
            return
        if written < len(data):
            self._pending += data[written:]
            self._loop.add_writer(self._fd, self._write_ready)

    def _write_ready(self) -> None:
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self._close(exc)
            return
        del self._pending[:written]
        if not self._pending:
            self._loop.remove_writer(self._fd)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._close(None)

    def _close(self, exc: Exception | None) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        # The fd belongs to whoever created the pty; we only stop using it.
        self._loop.call_soon(self._protocol.connection_lost, exc)


class BusProtocol(asyncio.Protocol):
    """Hands received bytes and the loss of the port to plain callbacks."""

    def __init__(self, on_data: Callable[[bytes], None], on_lost: Callable[[Exception | None], None]) -> None:
        self._on_data = on_data
        self._on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(exc)


async def open_link(port: str | int, protocol: BusProtocol, *, baudrate: int = 9600) -> asyncio.Transport:
    """Open ``port`` and return its transport; raises PortError when it cannot be opened."""
    loop = asyncio.get_running_loop()
    if isinstance(port, int):
        return _FdTransport(loop, port, protocol)
    try:
        transport, _ = await serial_asyncio_fast.create_serial_connection(
            loop, lambda: protocol, port, baudrate=baudrate
        )
    except (OSError, serial.SerialException, ValueError) as exc:
        raise PortError(f"cannot open {port}: {exc}") from exc
    return transport


def wire_seconds(n_bytes: int, baudrate: int) -> float:
    """Time ``n_bytes`` take on an 8N1 line: 10 bits a byte (start, 8 data, stop)."""
    return n_bytes * 10 / baudrate
