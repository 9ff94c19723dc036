"""QPad bus benchmark: wire time from frame sizes, measured poll cycles over a pty, codec throughput.

    .venv/bin/python bench/bench_bus.py [--pads 16] [--seconds 3]

A pty ignores the baud rate, so the measured cycle is pure software (poller + emulator + kernel pty).
The expected cycle on a real line is then wire time + that software overhead (the pad firmware's own
turnaround, allowed up to 50 ms by the spec, comes on top and is not modelled here).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_bridge.codec import Direction, FrameDecoder  # noqa: E402
from firmware_bridge.crc import crc16_modbus  # noqa: E402
from firmware_bridge.emulator import PadBusEmulator, PadState  # noqa: E402
from firmware_bridge.frames import (  # noqa: E402
    Key,
    KeyCode,
    Poll,
    Rating,
    ShowClerk,
    ShowState,
    Status,
    WindowState,
    encode,
)
from firmware_bridge.poller import BusPoller  # noqa: E402
from firmware_bridge.serial_link import wire_seconds  # noqa: E402

BAUDS = (9600, 115200)


def wire_cycle_seconds(pads: int, baud: int) -> float:
    exchange = len(encode(Poll(0, addr=1))) + len(encode(Status(addr=1)))
    return pads * wire_seconds(exchange, baud)


def _serve_pads(master_fd: int, pads: int, ready) -> None:
    # Runs in a child process, like a real pad: its Python work does not share the poller's loop.
    async def main() -> None:
        emulator = PadBusEmulator(master_fd, [PadState(a) for a in range(1, pads + 1)])
        await emulator.start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def measure_cycle(pads: int, baud: int, seconds: float) -> tuple[float, float, float, int]:
    master, slave = os.openpty()
    tty.setraw(slave)
    ready = multiprocessing.Event()
    child = multiprocessing.Process(target=_serve_pads, args=(master, pads, ready), daemon=True)
    child.start()
    ready.wait(10)

    async def on_event(addr, event) -> None:
        pass

    poller = BusPoller(os.ttyname(slave), range(1, pads + 1), on_event, baudrate=baud)
    samples: list[float] = []
    async with poller:
        deadline = time.monotonic() + 10
        while poller.pads_online < pads and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        # Sample every 10 ms: a busy sampler would steal the loop from the poller it measures.
        cycles_before, start = poller.stats.cycles, time.monotonic()
        while time.monotonic() - start < seconds:
            await asyncio.sleep(0.01)
            samples.append(poller.stats.last_cycle_s)
        mean = (time.monotonic() - start) / (poller.stats.cycles - cycles_before)
        missed = poller.stats.missed_replies
    child.terminate()
    child.join()
    os.close(master)
    os.close(slave)
    samples.sort()
    return mean, statistics.median(samples), samples[int(len(samples) * 0.99)], missed


def codec_throughput(seconds: float = 2.0) -> tuple[float, float, float]:
    frames = [
        Status(addr=3, seq=1),
        Key(7, KeyCode.CALL_NEXT, addr=4, seq=2),
        Rating(9, 123456, 5, 0, addr=5, seq=3),
        ShowClerk(5, "100123", "张三丰", addr=6, seq=4),
        ShowState(WindowState.SERVING, 12, "A001", addr=7, seq=5),
    ]
    stream = b"".join(encode(f) for f in frames) * 2000
    count = len(frames) * 2000
    decoder = FrameDecoder(Direction.BOTH)
    decoded = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for offset in range(0, len(stream), 4096):
            decoded += len(decoder.feed(stream[offset : offset + 4096]))
    elapsed = time.perf_counter() - start
    assert decoder.bad_total == 0 and decoded % count == 0
    encode_start = time.perf_counter()
    for _ in range(4000):
        for frame in frames:
            encode(frame)
    encode_rate = 4000 * len(frames) / (time.perf_counter() - encode_start)
    blob = bytes(range(256)) * 4096
    crc_start = time.perf_counter()
    crc16_modbus(blob)
    crc_rate = len(blob) / (time.perf_counter() - crc_start)
    return decoded / elapsed, encode_rate, crc_rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    pads = args.pads
    exchange = len(encode(Poll(0, addr=1))) + len(encode(Status(addr=1)))
    print(f"QPad bus, {pads} pads, plain POLL (9 B) + STATUS (12 B) = {exchange} B per pad, 8N1 = 10 bits/byte")
    print()
    print("wire time per poll cycle (computed):")
    for baud in BAUDS:
        print(f"  {baud:>6} baud: {wire_cycle_seconds(pads, baud) * 1000:7.1f} ms "
              f"({wire_seconds(exchange, baud) * 1000:.2f} ms per pad)")
    print()
    print(f"measured poll cycle over a pty pair ({pads} emulated pads in a child process, {args.seconds:.0f} s each):")
    for baud in BAUDS:
        mean, median, p99, missed = asyncio.run(measure_cycle(pads, baud, args.seconds))
        per_frame = mean / (2 * pads)  # a pty has no wire: all of it is software
        expected = wire_cycle_seconds(pads, baud) + mean
        print(f"  {baud:>6} baud setting: cycle mean {mean * 1000:6.2f} ms, median {median * 1000:6.2f} ms, "
              f"p99 {p99 * 1000:6.2f} ms, missed replies {missed}")
        print(f"      software overhead = measured - wire(0 on a pty): {mean / pads * 1000:.3f} ms per exchange, "
              f"{per_frame * 1e6:.0f} us per frame")
        print(f"      expected on a real {baud} line: {expected * 1000:.1f} ms per cycle "
              f"(wire {wire_cycle_seconds(pads, baud) * 1000:.1f} + software {mean * 1000:.1f})")
    print()
    decode_rate, encode_rate, crc_rate = codec_throughput()
    print("codec (pure Python, one core):")
    print(f"  decode: {decode_rate:,.0f} frames/s (mixed STATUS/KEY/RATING/SHOW_CLERK/SHOW_STATE, 4 KiB chunks)")
    print(f"  encode: {encode_rate:,.0f} frames/s")
    print(f"  CRC-16/MODBUS: {crc_rate / 1e6:.1f} MB/s")


if __name__ == "__main__":
    main()
