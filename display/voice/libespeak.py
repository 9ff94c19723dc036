"""espeak-ng loaded once (libespeak-ng, the library the `espeak-ng` command is built on; Debian
`libespeak-ng1`, which `espeak-ng` depends on), through ctypes, in a worker process of its own.

Why not the command: starting `espeak-ng` loads its voice data each time, and the fork, pipes and
temporary file are work the daemon does with the GIL held: 20–50 ms of CPU a call here, which
showed as call→LED p99 2.6× while calls were spoken. The library, loaded once, says a call in
~4 ms of CPU. Why a process and not a thread: the library hands its samples to a Python callback,
so a rendering thread takes the GIL back a dozen times a call, and a thread at SCHED_IDLE that
holds or waits for the GIL makes the loop wait for it (priority inversion: p99 still 2.5× in
bench_led); a process pool's hand-offs between threads cost as much. `EspeakWorker` runs
`LibEspeak` in one child process at SCHED_IDLE and nice 19 (display/voice/worker.py), started on
the first call; the daemon writes the text and reads the WAV back on its loop.
The sound is the same voice and text as the command's (the command adds ~0.4 s of silence).

The library keeps one global synthesiser: every call goes through one lock.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import sys
import threading

from display.voice.clips import wav_bytes
from display.voice.errors import RenderError, VoiceError

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of exit()ing the daemon
POS_CHARACTER = 1
CHARS_UTF8 = 1
RATE = 1  # espeak_PARAMETER espeakRATE
BUFFER_MS = 500  # samples handed to the callback per chunk
MAX_SAMPLES = 22050 * 60  # a call is seconds; a minute of sound is a runaway text
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def find_library() -> str | None:
    return ctypes.util.find_library("espeak-ng")


class LibEspeak:
    """Same interface as `display.voice.espeak.Espeak`: `check()`, `render(text) -> WAV bytes`."""

    _lock = threading.Lock()  # the library's state is process-wide
    _lib = None
    _rate = 0
    _speaking = None  # the instance whose callback, voice and speed the library holds

    def __init__(self, voice: str = "cmn-latn-pinyin", speed: int = 150, library: str | None = None):
        self.voice = voice
        self.speed = speed
        self.library = library or find_library()
        if self.library is None:
            raise VoiceError("[voice] espeak: libespeak-ng not found (Debian: apt-get install espeak-ng)")
        self.binary = self.library  # what the metrics and messages name
        self._chunks: list[bytes] = []
        self._samples = 0
        self._callback = _CALLBACK(self._collect)  # kept referenced while the library holds it

    def _open(self):
        cls = LibEspeak
        if cls._lib is None:
            try:
                lib = ctypes.CDLL(self.library)
            except OSError as exc:
                raise VoiceError(f"[voice] espeak: cannot load {self.library}: {exc}") from None
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MS, None, INITIALIZE_DONT_EXIT)
            if rate <= 0:
                raise VoiceError(f"[voice] espeak: libespeak-ng did not start (its data missing?): {rate}")
            cls._lib, cls._rate = lib, rate
        lib = cls._lib
        if cls._speaking is not self:  # set once, not before every call
            lib.espeak_SetSynthCallback(self._callback)
            if lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                cls._speaking = None
                raise VoiceError(f"[voice] espeak_voice: espeak-ng has no voice {self.voice!r} "
                                 f"(Mandarin: cmn-latn-pinyin; see espeak-ng --voices)")
            lib.espeak_SetParameter(RATE, self.speed, 0)
            cls._speaking = self
        return lib

    def check(self) -> None:
        """Refuse a voice espeak-ng does not have (it would otherwise speak English)."""
        with self._lock:
            self._open()

    def _collect(self, wav, n, _events) -> int:
        if wav and n > 0:
            self._samples += n
            if self._samples > MAX_SAMPLES:
                return 1  # stop: nobody announces a minute-long call
            self._chunks.append(ctypes.string_at(wav, n * 2))
        return 0

    def render(self, text: str) -> bytes:
        """`text` spoken, as a WAV (mono 16-bit PCM at the library's rate, 22050 Hz)."""
        data = text.encode("utf-8", "replace")
        with self._lock:
            try:
                lib = self._open()
            except VoiceError as exc:
                raise RenderError(str(exc)) from None
            self._chunks, self._samples = [], 0
            err = lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            frames, self._chunks = b"".join(self._chunks), []
            rate = LibEspeak._rate
        if err != 0:
            raise RenderError(f"libespeak-ng could not say it (error {err})")
        if not frames:
            raise RenderError("libespeak-ng wrote no sound")
        return wav_bytes(frames, rate)


TIMEOUT_S = 20.0


class EspeakWorker:
    """`LibEspeak` in a child process (display/voice/worker.py), talked to on the event loop: the
    daemon writes a line and reads the WAV back, no thread and no GIL shared with it. `render()`
    (blocking, in process) is for callers in a thread that render rarely."""

    def __init__(self, voice: str = "cmn-latn-pinyin", speed: int = 150):
        self.voice = voice
        self.speed = speed
        self.local = LibEspeak(voice, speed)  # check() and render(): the voice known before any call
        self.binary = self.local.binary
        self._proc = None
        self._lock = None  # an asyncio.Lock, made on the loop that first renders

    def check(self) -> None:
        self.local.check()

    def render(self, text: str) -> bytes:
        return self.local.render(text)

    async def render_async(self, text: str) -> bytes:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one call at a time on the pipe
            try:
                proc = await self._process()
                proc.stdin.write(text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace") + b"\n")
                head = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT_S)
                if head.startswith(b"W "):
                    return await asyncio.wait_for(proc.stdout.readexactly(int(head[2:])), TIMEOUT_S)
                if head.startswith(b"E "):
                    raise RenderError(head[2:].decode("utf-8", "replace").strip())
                raise RenderError(f"the espeak-ng worker ended ({head[:80]!r})")
            except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
                await self.close()  # a fresh worker for the next call
                raise RenderError(f"the espeak-ng worker failed: {exc or type(exc).__name__}") from None

    async def _process(self):
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "display.voice.worker", self.voice, str(self.speed),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 20)
        return self._proc

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            try:
                proc.kill()
                await proc.wait()
            except ProcessLookupError:
                pass


def open_espeak(binary: str = "espeak-ng", voice: str = "cmn-latn-pinyin", speed: int = 150):
    """The library in a worker process when `binary` is the default and libespeak-ng is there;
    else the command `binary` (a hall may name its own build or a wrapper)."""
    from display.voice.espeak import Espeak

    if binary == "espeak-ng" and find_library() is not None:
        return EspeakWorker(voice, speed)
    return Espeak(binary, voice, speed)
