"""The renderer: each call's speech to a WAV, off the event loop, when a player asks for it.

The runtime's listener (after the commit, on the loop) calls `announce()`, which only names the
call's audio (a fresh id, its URL): the `calls` message goes out at once with the URL in it. The
phrase is rendered when a screen or announcer first asks for that URL (every one that asks at
the same time waits for the one render, up to RENDER_WAIT_S), so a player never sees a 404 for a
fresh call and a hall pays for speech only while something speaks: an LED-only hall, or a call
nobody plays any more (an announcer skips stale calls after an outage), costs no render. A render
is ~4 ms of CPU in espeak-ng's worker process at SCHED_IDLE (display/voice/libespeak.py), 20–50
ms as a command, ~0.2 ms from clips; one at a time, in the order asked. Rendered audio is cached
per phrase, so a recall costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from display.voice.clips import ClipSet
from display.voice.errors import RenderError, VoiceError
from display.voice.libespeak import open_espeak
from display.voice.phrase import Phrase
from display.voice.store import AudioStore

log = logging.getLogger("queued.voice")

RENDER_WAIT_S = 10.0  # how long a request for audio still being rendered waits for it
AUDIO_PATH = "/audio/calls/{}.wav"
DEFAULTS = {"engine": "auto", "clips": "", "clip_gap_ms": 40, "espeak": "espeak-ng",
            "espeak_voice": "cmn-latn-pinyin", "espeak_speed": 150, "keep_minutes": 15, "cache_mb": 256}


@dataclass(slots=True)
class Counters:
    rendered_clips: int = 0
    rendered_espeak: int = 0
    fallbacks: int = 0  # phrases the clips could not say, spoken by espeak-ng instead
    failures: int = 0
    render_seconds: float = 0.0


class Voice:
    def __init__(self, config, clock):
        s = {**DEFAULTS, **(config.sections.get("voice") or {})}
        self.clock = clock
        self.settings = s
        self.store = AudioStore(s["keep_minutes"] * 60.0, s["cache_mb"] * 1024 * 1024)
        self.counters = Counters()
        self.clips: ClipSet | None = None
        self.espeak = None  # LibEspeak (in process) or Espeak (the command)
        engine = s["engine"]
        if engine == "auto":
            engine = "clips" if s["clips"] else "espeak"
        if engine == "clips":
            letters = {ch for b in config.hall.businesses for ch in b.code}
            self.clips = ClipSet.load(s["clips"], s["clip_gap_ms"], letters)
            try:  # for a window name the clips cannot say
                self.espeak = open_espeak(s["espeak"], s["espeak_voice"], s["espeak_speed"])
            except VoiceError:
                self.espeak = None
        elif engine == "espeak":
            try:
                self.espeak = open_espeak(s["espeak"], s["espeak_voice"], s["espeak_speed"])
                self.espeak.check()
            except VoiceError:
                if s["engine"] == "espeak":
                    raise
                log.error("no speech engine: calls carry no audio; install espeak-ng or give [voice] clips")
                engine = "off"
        self.engine = engine  # clips | espeak | off
        self._queue: deque[tuple[str, Phrase]] = deque()
        self._pending: dict[str, asyncio.Future] = {}  # phrase key → done when rendered (or failed)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def enabled(self) -> bool:
        return self.engine != "off"

    # ---- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.enabled:
            return
        self._wake = asyncio.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice")
        self._task = asyncio.create_task(self._run(), name="voice-render")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        close = getattr(self.espeak, "close", None)
        if close is not None:
            await close()  # espeak-ng's worker process
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RenderError("the daemon is stopping"))
        self._pending.clear()

    # ---- the listener's side (on the loop, after the commit: cheap, never waits) -----------------

    def announce(self, ticket: str, window_label: str) -> str | None:
        """Name the audio of one call; the path for the `calls` message. Nothing is rendered yet."""
        if self._wake is None:
            return None
        phrase = Phrase(ticket, window_label)
        call_id = secrets.token_hex(8)
        self.store.add_call(call_id, phrase.text, self.clock(), phrase)
        return AUDIO_PATH.format(call_id)

    def _ask(self, key: str) -> asyncio.Future | None:
        """The render of `key`, queued now if nobody asked for it before; None if unknown."""
        fut = self._pending.get(key)
        if fut is None:
            phrase = self.store.phrases.get(key)
            if phrase is None or self._wake is None:
                return None
            fut = asyncio.get_running_loop().create_future()
            fut.add_done_callback(_retrieve)
            self._pending[key] = fut
            self._queue.append((key, phrase))
            self._wake.set()
        return fut

    # ---- the worker ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                key, phrase = self._queue.popleft()
                fut = self._pending.get(key)
                try:
                    if self.store.wanted(key):
                        self.store.put(key, await self._render(phrase))
                    if fut is not None and not fut.done():
                        fut.set_result(None)
                except RenderError as exc:
                    self.counters.failures += 1
                    log.error("could not render %r: %s", phrase.text, exc)
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                finally:
                    self._pending.pop(key, None)

    async def _render(self, phrase: Phrase) -> bytes:
        """Clips when they can say it (a worker thread: large clips are megabytes), else espeak-ng:
        its worker process on the loop, or the command in the thread."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            units = phrase.units(self.clips.clips) if self.clips is not None else None
            if units is not None:
                data = await loop.run_in_executor(self._pool, self.clips.render, units)
                self.counters.rendered_clips += 1
                return data
            if self.clips is not None:
                if self.espeak is None:
                    raise RenderError(f"the clips in {self.clips.folder} cannot say {phrase.text!r} "
                                      f"and espeak-ng is not installed")
                self.counters.fallbacks += 1
                log.warning("the clips cannot say %r: espeak-ng speaks it (add clips for its window name)",
                            phrase.text)
            if self.espeak is None:
                raise RenderError("no speech engine")
            text = phrase.engine_text()
            render_async = getattr(self.espeak, "render_async", None)
            if render_async is not None:
                data = await render_async(text)
            else:
                data = await loop.run_in_executor(self._pool, self.espeak.render, text)
            self.counters.rendered_espeak += 1
            return data
        finally:
            self.counters.render_seconds += time.perf_counter() - started

    # ---- the HTTP side ---------------------------------------------------------------------------

    async def wav(self, call_id: str) -> bytes | None:
        """The call's WAV; None when the call is unknown or expired. Raises RenderError when it
        could not be rendered (or not in time)."""
        key = self.store.key_of(call_id, self.clock())
        if key is None:
            return None
        data = self.store.audio.get(key)
        if data is not None:
            return data
        fut = self._ask(key)
        if fut is None:
            raise RenderError("the call's audio could not be rendered")
        try:
            await asyncio.wait_for(asyncio.shield(fut), RENDER_WAIT_S)
        except TimeoutError:
            raise RenderError(f"the call's audio is not ready after {RENDER_WAIT_S:.0f} s") from None
        data = self.store.audio.get(key)
        if data is None:
            raise RenderError("the call's audio could not be rendered")
        return data

    # ---- metrics ---------------------------------------------------------------------------------

    def collect(self):
        c = self.counters
        rendered = CounterMetricFamily("queued_voice_rendered", "Call phrases rendered to audio", labels=["engine"])
        rendered.add_metric(["clips"], c.rendered_clips)
        rendered.add_metric(["espeak"], c.rendered_espeak)
        yield rendered
        yield _counter("queued_voice_clip_fallbacks", "Phrases the clips could not say, spoken by espeak-ng", c.fallbacks)
        yield _counter("queued_voice_render_failures", "Call phrases that could not be rendered", c.failures)
        yield _counter("queued_voice_render_seconds", "Time spent rendering call audio", c.render_seconds)
        yield _counter("queued_voice_evicted_early", "Call audio dropped before keep_minutes for want of "
                       "cache_mb", self.store.evicted_early)
        g = GaugeMetricFamily("queued_voice_cache_bytes", "Rendered call audio held in memory")
        g.add_metric([], self.store.bytes)
        yield g
        q = GaugeMetricFamily("queued_voice_queue", "Call phrases waiting to be rendered")
        q.add_metric([], len(self._queue))
        yield q


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    c = CounterMetricFamily(name, doc)
    c.add_metric([], value)
    return c


def _retrieve(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()  # a render failure is logged where it happens, not again by asyncio
