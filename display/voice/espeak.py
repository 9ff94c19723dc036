"""espeak-ng's Mandarin voice (Debian `espeak-ng`), for halls without recorded clips: robotic but
clear, offline, about 0.05–0.15 s of CPU per call here.

The voice is `cmn-latn-pinyin`: the plain `cmn` voice ("latin as English") reads the pinyin its
dictionary gives many characters as English words (`espeak-ng -v cmn -x 请` prints
`(en)kI55NTr'i:55`, "king three" for qing3), so 请, 到, 口, 办, 理 and most digits came out as English.
The engine runs at SCHED_IDLE (`chrt --idle 0`, util-linux) and `nice -n 19`, so that it only
uses a core nothing else wants and gives it up at once when the daemon, the broker or the database
wake (a prefix, not a preexec hook, so the daemon still starts it with vfork).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave

from display.voice.errors import RenderError, VoiceError

TIMEOUT_S = 20.0


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
        self.chrt = shutil.which("chrt")

    def command(self, text: str, out: str) -> list[str]:
        cmd = [self.binary, "-v", self.voice, "-s", str(self.speed), "-w", out, text]
        if self.nice:
            cmd = [self.nice, "-n", "19", *cmd]
        return [self.chrt, "--idle", "0", *cmd] if self.chrt else cmd

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
                done = subprocess.run(self.command(text, path), capture_output=True, timeout=TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise RenderError(f"espeak-ng failed: {exc}") from None
            if done.returncode != 0:
                raise RenderError(f"espeak-ng exited {done.returncode}: {done.stderr.decode(errors='replace')[:200]}")
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

