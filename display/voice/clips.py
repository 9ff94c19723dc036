"""The hall's recorded clips (a human voice, which halls prefer): one WAV per unit in one folder,
named by what it says (请.wav, 号.wav, 到.wav, 窗口.wav, 办理.wav, 0.wav … 9.wav, A.wav … Z.wav, and
anything else the hall's window names need, e.g. 综合.wav or 12.wav), concatenated with the
standard library `wave`.

Every clip must be mono 16-bit PCM at one sample rate (`sox in.wav -c 1 -b 16 -r 22050 out.wav`
converts one): the standard library does not resample, and a clip that does not fit is refused
when the daemon starts, with its name, rather than played at the wrong speed.
"""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Iterable
from pathlib import Path

from display.voice.errors import RenderError, VoiceError
from display.voice.phrase import REQUIRED_UNITS, unit_name

log = logging.getLogger("queued.voice")

MAX_CLIP_BYTES = 5 * 1024 * 1024  # a unit is a second or two; more is the wrong file
MAX_CLIPS = 1000


def wav_bytes(frames: bytes, framerate: int, sampwidth: int = 2, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sampwidth)
        w.setframerate(framerate)
        w.writeframes(frames)
    return out.getvalue()


class ClipSet:
    def __init__(self, folder: Path, clips: dict[str, bytes], framerate: int, gap_ms: int = 40):
        self.folder = folder
        self.clips = clips  # unit → PCM frames
        self.framerate = framerate
        self.gap = b"\x00\x00" * (framerate * gap_ms // 1000)

    @classmethod
    def load(cls, folder: str | Path, gap_ms: int = 40, letters: Iterable[str] = ()) -> ClipSet:
        """Read every clip of `folder`; refuse a folder that lacks a required unit (those of
        REQUIRED_UNITS and the `letters` of the hall's ticket prefixes) or holds a clip that does
        not fit the others."""
        path = Path(folder)
        if not path.is_dir():
            raise VoiceError(f"[voice] clips: {path} is not a folder")
        clips: dict[str, bytes] = {}
        rate: int | None = None
        first = ""
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
        if len(files) > MAX_CLIPS:
            raise VoiceError(f"[voice] clips: {path} holds {len(files)} WAV files (at most {MAX_CLIPS})")
        for f in files:
            name = unit_name(f.stem)
            if not name or name in clips:
                raise VoiceError(f"[voice] clips: {f.name}: {'an empty name' if not name else 'a second clip for ' + name}")
            if f.stat().st_size > MAX_CLIP_BYTES:
                raise VoiceError(f"[voice] clips: {f.name} is larger than {MAX_CLIP_BYTES // 1024 // 1024} MB")
            try:
                with wave.open(str(f), "rb") as w:
                    channels, width, fr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
                    frames = w.readframes(n)
            except (wave.Error, EOFError, OSError) as exc:
                raise VoiceError(f"[voice] clips: {f.name} is not a PCM WAV file ({exc})") from None
            if channels != 1 or width != 2:
                raise VoiceError(f"[voice] clips: {f.name} is {channels} channel(s) of {width * 8}-bit samples; "
                                 f"expected mono 16-bit PCM (sox {f.name} -c 1 -b 16 out.wav)")
            if rate is None:
                rate, first = fr, f.name
            elif fr != rate:
                raise VoiceError(f"[voice] clips: {f.name} is {fr} Hz but {first} is {rate} Hz: give every clip "
                                 f"one sample rate (sox {f.name} -r {rate} out.wav)")
            if not frames:
                raise VoiceError(f"[voice] clips: {f.name} holds no sound")
            clips[name] = frames
        missing = [u for u in (*REQUIRED_UNITS, *sorted({unit_name(x) for x in letters})) if u not in clips]
        if missing:
            raise VoiceError(f"[voice] clips: {path} lacks {', '.join(m + '.wav' for m in missing)} "
                             f"(every call says 请, the ticket's letters and digits, 号, 到, 窗口, 办理)")
        assert rate is not None
        return cls(path, clips, rate, gap_ms)

    def render(self, units: list[str]) -> bytes:
        """The units' clips one after the other, a short gap between them, as one WAV file."""
        try:
            parts = [self.clips[u] for u in units]
        except KeyError as exc:
            raise RenderError(f"no clip for {exc.args[0]!r} in {self.folder}") from None
        return wav_bytes(self.gap.join(parts), self.framerate)
