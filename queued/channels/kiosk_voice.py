"""Spoken guidance of the kiosk's 适老化 mode, rendered on the server like the calls (display/voice).

The start screen says what to do (GUIDE); the confirmation says the number, the wait and the
windows. Sentences are rendered by espeak-ng's Mandarin voice (`[voice]` espeak, espeak_voice,
espeak_speed), in a worker thread, one at a time, and kept in a small cache (the guide is rendered
once). A hall's recorded clips cannot say free sentences: with `[voice] engine = "clips"` and no
espeak-ng, or `engine = "off"`, the kiosk has no server voice and its page speaks with a Chinese
browser voice when the kiosk's browser has one, else shows the text only (docs/kiosk.md).
Nothing here is on the issue path: the page fetches the WAV after it is shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from queued.channels.printing import wait_lines

log = logging.getLogger("queued.kiosk")

DIGITS = "零一二三四五六七八九"
CACHE = 64


def spell(number: str) -> str:
    """A ticket number as halls say it: A 零 零 三."""
    return " ".join(DIGITS[int(ch)] if ch.isdigit() else ch for ch in number)


class KioskVoice:
    GUIDE = "您好，请点击屏幕上您要办理的业务，取号后请留意叫号。"

    def __init__(self, config):
        v = config.sections.get("voice") or {}
        self.espeak = None
        if v.get("engine", "auto") != "off":
            try:
                from display.voice.errors import VoiceError
                from display.voice.libespeak import open_espeak

                try:
                    self.espeak = open_espeak(v.get("espeak", "espeak-ng"), v.get("espeak_voice", "cmn-latn-pinyin"),
                                         int(v.get("espeak_speed", 150)))
                except VoiceError:
                    self.espeak = None
            except ImportError:  # the display package is not installed beside the daemon
                self.espeak = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self.espeak is not None

    @staticmethod
    def ticket_text(number: str, ahead: int | None, eta_seconds: float | None, windows: str,
                    serving: bool = True) -> str:
        parts = [f"您的号码是 {spell(number)} 号"]
        parts += wait_lines(ahead, eta_seconds, serving)
        if windows:
            parts.append(f"办理窗口是 {windows}")
        parts.append("请在大厅等候，留意屏幕和语音叫号")
        return "。".join(parts) + "。"

    async def wav(self, text: str) -> bytes | None:
        """`text` spoken as a WAV, or None without a server voice (or when it failed: logged)."""
        if self.espeak is None:
            return None
        data = self._cache.get(text)
        if data is not None:
            self._cache.move_to_end(text)
            return data
        async with self._lock:  # one render at a time: a burst of taps never takes both cores
            data = self._cache.get(text)
            if data is None:
                try:
                    data = await asyncio.to_thread(self.espeak.render, text)
                except Exception as exc:  # RenderError, or the binary vanished
                    log.warning("kiosk guidance not rendered: %s", exc)
                    return None
                self._cache[text] = data
                while len(self._cache) > CACHE:
                    self._cache.popitem(last=False)
        return data
