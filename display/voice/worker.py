"""espeak-ng's worker process: libespeak-ng loaded once, at SCHED_IDLE and nice 19, speaking what
the daemon sends (display.voice.libespeak.EspeakWorker starts it and talks to it on the loop).

    python -m display.voice.worker VOICE SPEED

The protocol, one call at a time: the daemon writes one line of UTF-8 text; the worker answers
`W <n>\\n` and n bytes of WAV, or `E <message>\\n`. It ends when its stdin closes (the daemon
stopped, or died: nothing outlives the daemon).
"""

from __future__ import annotations

import os
import sys

from display.voice.errors import RenderError, VoiceError
from display.voice.libespeak import LibEspeak


def lower_priority() -> None:
    """Only a core nothing of the hall wants: SCHED_IDLE, and nice 19 where that is refused."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    try:
        os.nice(19)
    except OSError:
        pass


def serve(engine, stdin, stdout) -> None:
    for line in stdin:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        try:
            wav = engine.render(text)
        except (RenderError, VoiceError) as exc:
            stdout.write(b"E " + str(exc).replace("\n", " ").encode("utf-8", "replace") + b"\n")
        else:
            stdout.write(b"W %d\n" % len(wav))
            stdout.write(wav)
        stdout.flush()


def main(argv: list[str] | None = None) -> int:
    voice, speed = (argv if argv is not None else sys.argv[1:])[:2]
    lower_priority()
    engine = LibEspeak(voice, int(speed))
    try:
        engine.check()
    except VoiceError as exc:
        sys.stdout.buffer.write(b"E " + str(exc).encode() + b"\n")
        return 2
    try:
        serve(engine, sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
