"""espeak-ng's Mandarin voice (Debian `espeak-ng`), for halls without recorded clips: robotic but
clear, offline, about 0.05–0.15 s of CPU per call here.

The voice is `cmn-latn-pinyin`: the plain `cmn` voice ("latin as English") reads the pinyin its
dictionary gives many characters as English words (`espeak-ng -v cmn -x 请` prints
`(en)kI55NTr'i:55`, "king three" for qing3), so 请, 到, 口, 办, 理 and most digits came out as English.
The engine runs at SCHED_IDLE (else `nice -n 19`), started by a small helper process of its own (one per
daemon, spawned fresh, not forked from the daemon): starting a program from the daemon itself
copies its mappings and holds its interpreter on every call, which showed as the call → LED p99
going from ~2 to ~5 ms with voice on (bench/RESULTS.md, "Voice and the hot path").
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from concurrent.futures import ProcessPoolExecutor

from display.voice.errors import RenderError, VoiceError

TIMEOUT_S = 20.0
NICE = 19

_spawner: ProcessPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _lower_priority() -> None:
    # SCHED_IDLE: the helper and the espeak-ng it starts run only on a core nothing else wants, and
    # give it up at once when the daemon, the broker or the database wake (nice 19 where refused).
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    try:
        os.nice(NICE)
    except OSError:
        pass


def _spawner_pool() -> ProcessPoolExecutor:
    """The helper process that starts espeak-ng (created on first use, shared by every engine)."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_lower_priority)
        return _spawner


def _run(cmd: list[str]) -> tuple[int, bytes]:
    """In the helper process: run one command, its exit code and stderr."""
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, str(exc).encode()
    return done.returncode, done.stderr


def _reset_spawner() -> None:
    global _spawner
    with _spawner_lock:
        pool, _spawner = _spawner, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


class Espeak:
    def __init__(self, binary: str = "espeak-ng", voice: str = "cmn-latn-pinyin", speed: int = 150):
        path = shutil.which(binary)
        if path is None:
            raise VoiceError(f"[voice] espeak: {binary!r} not found (Debian: apt-get install espeak-ng; or give the "
                             f"hall's recorded clips with [voice] clips, or engine = \"off\")")
        self.binary = path
        self.voice = voice
        self.speed = speed
        self.nice = shutil.which("nice")

    def command(self, text: str, out: str) -> list[str]:
        cmd = [self.binary, "-v", self.voice, "-s", str(self.speed), "-w", out, text]
        return [self.nice, "-n", str(NICE), *cmd] if self.nice else cmd

    def check(self) -> None:
        """Refuse a voice espeak-ng does not have (it would otherwise speak English)."""
        try:
            done = subprocess.run([self.binary, "--voices"], capture_output=True, timeout=TIMEOUT_S, text=True)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VoiceError(f"[voice] espeak: {self.binary} does not run: {exc}") from None
        names = {line.split()[1] for line in done.stdout.splitlines()[1:] if len(line.split()) > 1}
        files = {line.split()[4].rsplit("/", 1)[-1] for line in done.stdout.splitlines()[1:] if len(line.split()) > 4}
        if self.voice not in names and self.voice.lower() not in {f.lower() for f in files}:
            raise VoiceError(f"[voice] espeak_voice: espeak-ng has no voice {self.voice!r} "
                             f"(Mandarin: cmn-latn-pinyin; see espeak-ng --voices)")

    def render(self, text: str) -> bytes:
        """`text` spoken, as the WAV espeak-ng writes (mono 16-bit PCM, 22050 Hz)."""
        fd, path = tempfile.mkstemp(prefix="queued-voice-", suffix=".wav")
        os.close(fd)
        try:
            try:
                code, err = _spawner_pool().submit(_run, self.command(text, path)).result(TIMEOUT_S + 5)
            except Exception as exc:  # the helper died or timed out: this call has no audio, the next tries again
                _reset_spawner()
                raise RenderError(f"espeak-ng failed: {type(exc).__name__}: {exc}") from None
            if code == -1:
                raise RenderError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
            if code != 0:
                raise RenderError(f"espeak-ng exited {code}: {err.decode(errors='replace')[:200]}")
            with open(path, "rb") as f:
                data = f.read()
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            with wave.open(io.BytesIO(data)) as w:
                if w.getnframes() == 0:
                    raise RenderError("espeak-ng wrote no sound")
        except (wave.Error, EOFError) as exc:
            raise RenderError(f"espeak-ng wrote no WAV: {exc}") from None
        return data

