"""The `mosquitto` child process: started, watched (started again when it dies), stopped with the
daemon, and never left behind when the daemon is killed.

- Linux's PR_SET_PDEATHSIG (set between fork and exec) sends the broker SIGTERM when the daemon
  dies, also by kill -9; the broker runs in a session of its own so a terminal's Ctrl-C reaches the
  daemon only, which then stops the broker itself.
- Belt and braces for kernels or paths without that: the child's pid is kept in the broker's
  directory, and a broker of ours still running from an earlier daemon is ended before a new start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections import deque
from pathlib import Path

from queued.broker.accounts import write_private
from queued.broker.errors import BrokerStartError

log = logging.getLogger("queued.broker")

READY_TIMEOUT_S = 10.0
RESTART_MIN_S = 0.2
RESTART_MAX_S = 5.0
STOP_TIMEOUT_S = 3.0
_PR_SET_PDEATHSIG = 1
_QUIET = ("should not be run as root",)  # Mosquitto's own remark when we keep it at the daemon's user


def find_binary() -> str:
    """QUEUED_MOSQUITTO, else `mosquitto` on PATH or in the distribution's sbin."""
    wanted = os.environ.get("QUEUED_MOSQUITTO")
    if wanted:
        if os.access(wanted, os.X_OK) and Path(wanted).is_file():
            return wanted
        raise BrokerStartError(f"QUEUED_MOSQUITTO={wanted}: no such program. " + _install_hint())
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BrokerStartError("the embedded MQTT broker needs the `mosquitto` program, which is not installed. "
                           + _install_hint())


def _install_hint() -> str:
    return ("Install it (Debian/Ubuntu: apt-get install mosquitto; `make serve` does), or add [mqtt] url = "
            "\"mqtt://HOST:PORT\" to the configuration to use the hall's own broker instead")


def taken_message(host: str, port: int, why: str) -> str:
    return (f"cannot start the embedded MQTT broker on {host}:{port}: {why}. "
            f"A Mosquitto may already run there (it often does on 1883): set [daemon] embedded_mqtt "
            f"(or QUEUED_EMBEDDED_MQTT) to a free HOST:PORT, or add [mqtt] url = \"mqtt://{host}:{port}\" "
            f"to use that broker instead")


def check_free(host: str, port: int) -> None:
    """Fail with a clear message when the port is taken (Mosquitto would only log and exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Mosquitto's listener will
        try:
            s.bind((host, port))
        except OSError as exc:
            why = "the port is already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise BrokerStartError(taken_message(host, port, why)) from None


# Looked up here, not in the child: between fork and exec only the system call itself should run.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _ours(pid: int, conf: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(conf).encode() in cmdline and any(b"mosquitto" in part for part in cmdline[:1])


def end_leftover(pid_file: Path, conf: Path) -> None:
    """End a broker that an earlier daemon left running on this configuration (it holds the port)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if not _ours(pid, conf):
        return
    log.warning("ending the embedded MQTT broker (pid %d) an earlier daemon left running", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _ours(pid, conf) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _ours(pid, conf):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class MosquittoProcess:
    def __init__(self, binary: str, conf: Path, host: str, port: int, pid_file: Path):
        self.binary, self.conf, self.pid_file = binary, conf, pid_file
        self.host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
        self.port = port
        self.restarts = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr: deque[str] = deque(maxlen=20)
        self._stopping = False
        self._watch: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start the broker and wait until it accepts connections; raise if it cannot."""
        await self._spawn()
        if not await self._ready():
            tail = "; ".join(self.stderr) or f"exit status {self.proc.returncode}"
            await self._end()
            raise BrokerStartError(f"the embedded MQTT broker ({self.binary}) did not start on "
                                   f"{self.host}:{self.port}: {tail}")
        self._watch = asyncio.create_task(self._supervise(), name="mosquitto-supervisor")

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        await self._end()
        with contextlib.suppress(OSError):
            self.pid_file.unlink()

    async def _spawn(self) -> None:
        self.stderr.clear()
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "-c", str(self.conf), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent, start_new_session=True)
        write_private(self.pid_file, f"{self.proc.pid}\n")
        self._reader = asyncio.create_task(self._read_stderr(self.proc), name="mosquitto-stderr")

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        while line := await proc.stderr.readline():
            text = line.decode("utf-8", "replace").strip()
            if text and not any(q in text for q in _QUIET):
                self.stderr.append(text)
                log.warning("mosquitto: %s", text)

    async def _ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                await asyncio.sleep(0.05)  # let its last words arrive
                return False
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 0.5)
                writer.close()
                return True
            except (OSError, TimeoutError):
                await asyncio.sleep(0.05)
        return False

    async def _supervise(self) -> None:
        backoff = RESTART_MIN_S
        while not self._stopping:
            code = await self.proc.wait()
            if self._stopping:
                return
            if self._reader is not None:
                await asyncio.gather(self._reader, return_exceptions=True)
            log.error("the embedded MQTT broker exited (status %s); starting it again", code)
            await asyncio.sleep(backoff)
            self.restarts += 1
            await self._spawn()
            if await self._ready():
                log.info("the embedded MQTT broker runs again on %s:%d", self.host, self.port)
                backoff = RESTART_MIN_S
            else:
                backoff = min(RESTART_MAX_S, backoff * 2)

    async def _end(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
