"""``queued pad-emu``: an emulated QPad on a serial port or on a pty pair it creates itself.

    queued pad-emu [--port URL_OR_PATH] [--address N ...] [--baud 9600] [--old-firmware]

With no ``--port`` it opens a pty pair and prints the slave path to put in the daemon's config. It
prints the pad's two screens whenever they change and takes key presses as lines on stdin (``help``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import tty
from collections.abc import Sequence
from typing import TextIO

from . import cli_help
from .emulator import PadBusEmulator, PadState
from .errors import FirmwareBridgeError
from .frames import KeyCode, RatingLevel, ShowParked

_KEY_COMMANDS = {
    "c": KeyCode.CALL_NEXT,
    "r": KeyCode.RECALL,
    "s": KeyCode.SKIP,
    "p": KeyCode.PAUSE,
    "u": KeyCode.RESUME,
    "f": KeyCode.FINISH,
}

HELP = """\
按键 (clerk keys):
  c  呼叫 call_next      r  重呼 recall       s  过号 skip
  p  暂停 pause          u  恢复 resume       f  办结 finish
  t N  转移 transfer to business N (1-based)
评价 (citizen keys, while a rating prompt is open):
  x 1 3   choose 差评 reasons 1 and 3 for the next rating (x alone clears)
  5 非常满意  4 满意  3 基本满意  2 不满意  1 非常不满意
  o       let the rating time out now (citizen walks away)
other:
  a N     act on pad N (when several addresses are emulated)
  power   power cycle (queue and EVT counter lost)     mute / unmute   stop / resume answering
  noise [N]  write N random bytes on the line          lock / unlock   lock the keys
  screen  print the screens    stats  counters    help    q  quit"""


class PadConsole:
    """Turns console lines into pad actions; sans-IO apart from the emulator it drives."""

    def __init__(self, emulator: PadBusEmulator) -> None:
        self.emulator = emulator
        self.current = min(emulator.pads)
        self.reasons = 0
        self.quit = False

    @property
    def pad(self) -> PadState:
        return self.emulator.pad(self.current)

    def screens(self) -> list[str]:
        lines = []
        for pad in self.emulator.pads.values():
            lines += ["  客户面 | " + line for line in pad.citizen_screen()]
            lines += ["  窗口面 | " + line for line in pad.clerk_screen()]
        return lines

    def execute(self, line: str) -> list[str]:
        words = line.split()
        if not words:
            return []
        command, args = words[0].lower(), words[1:]
        try:
            return self._execute(command, args)
        except (FirmwareBridgeError, ValueError, IndexError) as exc:
            return [f"! {exc}"]

    def _execute(self, command: str, args: list[str]) -> list[str]:
        pad = self.pad
        if command in _KEY_COMMANDS:
            return [self._pressed(pad.press(_KEY_COMMANDS[command]))]
        if command == "t":
            return [self._pressed(pad.press(KeyCode.TRANSFER, int(args[0])))]
        if command in ("1", "2", "3", "4", "5"):
            event = pad.rate(int(command), self.reasons)
            self.reasons = 0
            return [f"评价 {RatingLevel(event.level).label} (case {event.case}, reasons {event.reasons:#06b}, "
                    f"EVT {event.evt})"]
        if command == "x":
            self.reasons = 0
            for reason in args:
                if not 1 <= int(reason) <= 16:
                    raise ValueError("reasons are numbered 1..16")
                self.reasons |= 1 << (int(reason) - 1)
            return [f"差评原因 bitmask {self.reasons:#06b}"]
        if command == "o":
            event = pad.time_out_rating()
            return [f"评价超时 (case {event.case}, EVT {event.evt})"]
        if command == "a":
            address = int(args[0])
            if address not in self.emulator.pads:
                raise ValueError(f"no pad {address} here")
            self.current = address
            return [f"now acting on pad {address}"]
        if command == "power":
            pad.power_cycle()
            return [f"pad {pad.address} power cycled"]
        if command in ("mute", "unmute"):
            self.emulator.set_silent(pad.address, command == "mute")
            return [f"pad {pad.address} {'silent' if command == 'mute' else 'answering'}"]
        if command == "noise":
            data = self.emulator.inject_noise(length=int(args[0]) if args else 64)
            return [f"wrote {len(data)} noise bytes"]
        if command in ("lock", "unlock"):
            pad.keys_locked = command == "lock"
            return [f"keys {'locked' if pad.keys_locked else 'unlocked'}"]
        if command == "screen":
            return self.screens()
        if command == "stats":
            decoder = self.emulator.decoder
            return [f"frames in {self.emulator.frames_received}, replies {self.emulator.replies_sent}, "
                    f"bad {decoder.bad}, discarded bytes {decoder.discarded_bytes}, "
                    f"pending {pad.pending}, resends {pad.resends}"]
        if command == "help":
            return HELP.splitlines()
        if command in ("q", "quit", "exit"):
            self.quit = True
            return []
        return [f"? unknown command {command!r} (help lists them)"]

    @staticmethod
    def _pressed(event) -> str:
        if event is None:
            return "keys are locked"
        return f"{KeyCode(event.key).label} {event.key.topic_name} arg {event.arg} queued as EVT {event.evt}"


def _parser() -> argparse.ArgumentParser:
    parser = cli_help.parser(
        "queued pad-emu",
        "评价器（QPad v1）模拟器：扮演 RS-485 总线上的评价器/呼叫器，键入 help 看按键命令。\n"
        "不给 --port 时创建一对伪终端（pty）并打印其路径，例如 /dev/pts/5；守护进程的配置里\n"
        "窗口写 pad = { port = \"/dev/pts/5\", address = 1 }；用 --link 给它一个固定路径，配置就不必每次改：\n"
        "  queued pad-emu --address 3 --link /tmp/queued-pad3\n"
        "  queued serve --config docs/examples/pad_hall.toml    # 3号窗口 pad = { port = \"/tmp/queued-pad3\", address = 3 }\n"
        "完整步骤见 README「评价器与显示屏」。")
    parser.add_argument("--port", help="pyserial 地址或串口设备（如 /dev/ttyUSB0、socket://host:4001）；"
                                       "不给：新建伪终端并打印它的路径")
    parser.add_argument("--address", type=int, action="append",
                        help="评价器地址 1..247，可重复给出以模拟一条总线上的多台；不给：地址 1")
    parser.add_argument("--baud", type=int, default=9600, help="波特率，须与配置一致")
    parser.add_argument("--link", help="新建伪终端时，在这个路径放一个指向它的符号链接（退出时删除），"
                                       "配置里的 port 写这个路径；不给：不建链接")
    parser.add_argument("--old-firmware", action="store_true",
                        help="模拟不认识挂起列表命令（SHOW_PARKED 0x07）的旧固件：对它回 NAK 2")
    return cli_help.in_chinese(parser)


def _read_stdin(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue) -> None:
    # A daemon thread, so a blocked readline never keeps the process alive at exit.
    for line in sys.stdin:
        loop.call_soon_threadsafe(lines.put_nowait, line)
    loop.call_soon_threadsafe(lines.put_nowait, None)


async def _serve(args: argparse.Namespace, out: TextIO) -> int:
    addresses = args.address or [1]
    slave_fd = None
    port: str | int = args.port
    if port is None:
        master_fd, slave_fd = os.openpty()
        tty.setraw(slave_fd)
        port = master_fd
        # The daemon opens this path; we hold the slave open so the pty survives its restarts.
        print(f"pty ready: {os.ttyname(slave_fd)}  (serial port for the daemon's config)", file=out)
        if args.link:
            _link(os.ttyname(slave_fd), args.link)
            print(f"link ready: {args.link} -> {os.ttyname(slave_fd)}", file=out)
    unknown = {ShowParked.CMD} if args.old_firmware else set()
    emulator = PadBusEmulator(port, [PadState(a, unknown_commands=unknown) for a in addresses], baudrate=args.baud)
    try:
        await emulator.start()
    except FirmwareBridgeError as exc:
        print(f"cannot start: {exc}", file=out)
        return 1
    console = PadConsole(emulator)
    print(f"pads {addresses} on {args.port or 'pty'} at {args.baud} baud; type help", file=out)
    lines: asyncio.Queue = asyncio.Queue()
    threading.Thread(target=_read_stdin, args=(asyncio.get_running_loop(), lines), daemon=True).start()
    shown = None
    try:
        while not console.quit:
            try:
                line = await asyncio.wait_for(lines.get(), timeout=0.2)
            except TimeoutError:
                line = ""
            if line is None:
                break
            for text in console.execute(line):
                print(text, file=out)
            versions = tuple(pad.display_version for pad in emulator.pads.values())
            if versions != shown:
                shown = versions
                print("\n".join(console.screens()), file=out, flush=True)
    finally:
        await emulator.stop()
        if slave_fd is not None:
            os.close(slave_fd)
            os.close(port)
            if args.link and os.path.islink(args.link):
                os.unlink(args.link)
    return 0


def _link(target: str, path: str) -> None:
    """`path` → the pty; an old link there (a previous run's) is replaced, anything else refused."""
    if os.path.lexists(path):
        if not os.path.islink(path):
            raise SystemExit(f"queued pad-emu: --link {path} exists and is not a symbolic link; not replacing it")
        os.unlink(path)
    os.symlink(target, path)


def run_pad_emulator(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Entry point of ``queued pad-emu``; returns the exit status."""
    args = _parser().parse_args(argv)
    for address in args.address or []:
        if not 1 <= address <= 247:
            _parser().error(f"--address {address} is outside 1..247")
    try:
        return asyncio.run(_serve(args, out or sys.stdout))
    except KeyboardInterrupt:
        return 0
