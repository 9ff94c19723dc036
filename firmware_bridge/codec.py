"""Sans-IO frame decoder: bytes in, frames out, garbage counted and never raised.

The receiver rule of serial-protocol.md: scan for SOF1 SOF2, read the header, drop the frame (and
count it) when LEN > 200, the CRC fails, CMD is unknown, or the payload does not parse for its CMD;
then resume scanning at the byte after the dropped SOF1. A truncated frame waits for more bytes.

Both directions share one bus, so each side also sees the other side's frames: a pad sees the other
pads' replies and a host may see its own echo on an RS-485 adapter. Such frames are valid, so they are
skipped whole (not rescanned byte by byte) and counted in ``ignored``, not in ``bad``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from .crc import crc16_modbus
from .errors import PayloadError
from .frames import (
    CRC_SIZE,
    FRAME_TYPES,
    HEADER_SIZE,
    HOST_COMMAND_TYPES,
    MAX_PAYLOAD,
    PAD_REPLY_TYPES,
    SOF,
    Frame,
    parse_payload,
)

SOF1 = SOF[0]

# Reasons a frame is dropped; "truncated" is a partial frame given up by ``abandon_partial``.
DROP_REASONS = ("bad_len", "bad_crc", "unknown_cmd", "bad_payload", "truncated")


class Direction(enum.Enum):
    """Which frames a decoder yields."""

    PAD_TO_HOST = "pad_to_host"  # the host side: STATUS, KEY, RATING, RATE_TIMEOUT, NAK
    HOST_TO_PAD = "host_to_pad"  # the pad side: POLL, SHOW_CLERK, ...
    BOTH = "both"  # a bus sniffer


# Called for a CRC-valid frame that was dropped (unknown CMD or bad payload), so a pad can NAK it.
RejectHook = Callable[[int, int, int, str], None]  # (addr, cmd, seq, reason)


class FrameDecoder:
    """Feed it bytes as they arrive; it returns the complete frames found so far."""

    def __init__(self, accept: Direction = Direction.BOTH, *, on_reject: RejectHook | None = None) -> None:
        self.accept = accept
        self._accepted_types = {
            Direction.PAD_TO_HOST: PAD_REPLY_TYPES,
            Direction.HOST_TO_PAD: HOST_COMMAND_TYPES,
            Direction.BOTH: FRAME_TYPES,
        }[accept]
        self._on_reject = on_reject
        self._buffer = bytearray()
        self.good = 0
        self.bad: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.ignored = 0  # valid frames of the other direction
        self.discarded_bytes = 0  # bytes that were not part of a good or ignored frame

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    @property
    def buffered(self) -> int:
        """Bytes held back: the start of a frame waiting for the rest (or a lone trailing 0xA5)."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        self._buffer += data
        return self._scan()

    def abandon_partial(self) -> list[Frame]:
        """Give up on a frame that stopped arriving (the caller's reply or inter-byte timeout).

        Counts it as "truncated" and rescans from the byte after its SOF1, so a real frame hidden
        behind a false SOF (noise that looked like a header with a large LEN) is still found.
        """
        if len(self._buffer) >= 2 and self._buffer[:2] == SOF:
            self._drop("truncated")
            return self._scan()
        self.discarded_bytes += len(self._buffer)
        self._buffer.clear()
        return []

    def clear(self) -> None:
        """Forget buffered bytes (a port was reopened); counters are kept."""
        self.discarded_bytes += len(self._buffer)
        self._buffer.clear()

    def _drop(self, reason: str) -> None:
        # Drop only the SOF1 byte: scanning resumes right after it.
        self.bad[reason] += 1
        self.discarded_bytes += 1
        del self._buffer[:1]

    def _scan(self) -> list[Frame]:
        frames: list[Frame] = []
        buf = self._buffer
        while True:
            start = buf.find(SOF)
            if start < 0:
                # Keep a trailing SOF1: its SOF2 may be in the next chunk.
                keep = 1 if buf and buf[-1] == SOF1 else 0
                self.discarded_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                return frames
            if start:
                self.discarded_bytes += start
                del buf[:start]
            if len(buf) < HEADER_SIZE:
                return frames
            addr, cmd, seq, length = buf[2], buf[3], buf[4], buf[5]
            if length > MAX_PAYLOAD:
                self._drop("bad_len")
                continue
            end = HEADER_SIZE + length + CRC_SIZE
            if len(buf) < end:
                return frames  # truncated: wait for more bytes
            crc = buf[end - 2] | (buf[end - 1] << 8)
            if crc16_modbus(memoryview(buf)[2 : end - 2]) != crc:
                self._drop("bad_crc")
                continue
            frame_type = FRAME_TYPES.get(cmd)
            if frame_type is None:
                self._reject(addr, cmd, seq, "unknown_cmd")
                continue
            if cmd not in self._accepted_types:
                self.ignored += 1
                del buf[:end]
                continue
            try:
                frame = parse_payload(cmd, addr, seq, bytes(buf[HEADER_SIZE : end - 2]))
            except PayloadError:
                self._reject(addr, cmd, seq, "bad_payload")
                continue
            self.good += 1
            del buf[:end]
            frames.append(frame)

    def _reject(self, addr: int, cmd: int, seq: int, reason: str) -> None:
        self._drop(reason)
        if self._on_reject is not None:
            self._on_reject(addr, cmd, seq, reason)
