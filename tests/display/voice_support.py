"""Clips folders made with sox for the voice tests: one tone per unit, each at its own pitch, so a
test can hear (by counting zero crossings) which clip plays where."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

from display.voice.phrase import REQUIRED_UNITS

RATE = 16000


def tone_of(i: int) -> int:
    return 300 + 90 * i  # Hz: far enough apart to tell by zero crossings


def make_clips(folder: Path, letters: str = "ABC", extra: tuple[str, ...] = (), rate: int = RATE) -> dict[str, tuple[int, float]]:
    """unit → (frequency Hz, seconds), one WAV each, written by sox."""
    folder.mkdir(parents=True, exist_ok=True)
    units = [*REQUIRED_UNITS, *letters, *extra]
    out = {}
    for i, unit in enumerate(units):
        freq, seconds = tone_of(i), 0.2 + 0.01 * (i % 7)
        subprocess.run(["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(folder / f"{unit}.wav"),
                        "synth", f"{seconds}", "sine", str(freq), "vol", "0.5"], check=True, capture_output=True)
        with wave.open(str(folder / f"{unit}.wav")) as w:
            out[unit] = (freq, w.getnframes() / w.getframerate())
    return out


def segments(path: Path, lengths: list[float], gap_s: float) -> list[float]:
    """The frequency of each clip-long stretch of a rendered WAV (zero crossings per second / 2)."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    samples = [int.from_bytes(raw[i:i + 2], "little", signed=True) for i in range(0, len(raw), 2)]
    out, pos = [], 0
    for seconds in lengths:
        n = round(seconds * rate)
        part = samples[pos:pos + n]
        crossings = sum(1 for a, b in zip(part, part[1:], strict=False) if (a < 0) != (b < 0))
        out.append(crossings / 2 / seconds)
        pos += n + round(gap_s * rate)
    return out
