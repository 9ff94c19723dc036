"""The spoken call: rendered on the server, heard as sound (sox), from espeak-ng's Mandarin voice
and from a hall's clips folder; named by every `calls` message and served for its time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import wave

import pytest

from display.voice.clips import ClipSet
from display.voice.errors import VoiceError
from display.voice.espeak import Espeak
from display.voice.phrase import Phrase
from tests.display.helpers import Subscriber
from tests.display.voice_support import make_clips, segments
from tests.support import sox_stat, token

CALLS = "queued/main/calls"


def audible(path, low_s: float, high_s: float) -> dict[str, float]:
    st = sox_stat(path)
    assert st["RMS     amplitude"] > 0.03, st  # speech, not silence (espeak-ng here: 0.08–0.13)
    assert low_s < st["Length (seconds)"] < high_s, st
    return st


def test_espeak_says_the_call_in_mandarin(tmp_path):
    engine = Espeak()
    engine.check()
    phrase = Phrase("A001", "3号窗口")
    out = tmp_path / "a001.wav"
    out.write_bytes(engine.render(phrase.engine_text()))
    st = audible(out, 3.0, 8.0)  # 请 A 零 零 一 号，到 三 号 窗 口 办 理: 12 syllables
    longer = tmp_path / "ab1234.wav"
    longer.write_bytes(engine.render(Phrase("AB1234", "12号窗口").engine_text()))
    assert audible(longer, 3.0, 10.0)["Length (seconds)"] > st["Length (seconds)"] + 0.5  # three syllables more
    # Every syllable in Mandarin: the plain `cmn` voice would switch to English ("(en)") for 请, 到, 口…
    phonemes = subprocess.run([engine.binary, "-v", engine.voice, "-q", "-x", phrase.engine_text()],
                              capture_output=True, text=True, check=True).stdout
    assert "(en)" not in phonemes and phonemes.count("_|") >= 12, phonemes
    plain = subprocess.run([engine.binary, "-v", "cmn", "-q", "-x", phrase.engine_text()],
                           capture_output=True, text=True, check=True).stdout
    assert "(en)" in plain  # why the default voice is cmn-latn-pinyin (docs/voice.md)


def test_engine_text_reads_ticket_digits_one_by_one():
    assert Phrase("A012", "3号窗口").engine_text() == "请 A 零 一 二 号，到 3号窗口 办理"
    assert Phrase("AB7", "综合窗口").text == "请AB7号到综合窗口办理"


def test_clips_are_played_in_the_order_of_the_call(tmp_path):
    clips = make_clips(tmp_path / "clips", extra=("综合",))
    voice = ClipSet.load(tmp_path / "clips", gap_ms=40, letters="ABC")
    units = Phrase("B012", "3号窗口").units(voice.clips)
    assert units == ["请", "B", "0", "1", "2", "号", "到", "3", "号", "窗口", "办理"]
    assert Phrase("A1", "综合窗口").units(voice.clips) == ["请", "A", "1", "号", "到", "综合", "窗口", "办理"]
    assert Phrase("A1", "东区窗口").units(voice.clips) is None  # no clip says 东区
    out = tmp_path / "b012.wav"
    out.write_bytes(voice.render(units))
    lengths = [clips[u][1] for u in units]
    expected = sum(lengths) + 0.04 * (len(units) - 1)
    st = audible(out, expected - 0.01, expected + 0.01)
    assert st["RMS     amplitude"] > 0.3  # sine tones at half scale: 0.35
    heard = segments(out, lengths, 0.04)
    for unit, freq in zip(units, heard, strict=True):
        assert abs(freq - clips[unit][0]) < 15, (unit, freq, clips[unit][0])
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)


def test_a_clips_folder_that_does_not_fit_is_refused_by_name(tmp_path):
    folder = tmp_path / "clips"
    make_clips(folder, letters="A")
    with pytest.raises(VoiceError, match=r"lacks B\.wav"):
        ClipSet.load(folder, letters="AB")
    (folder / "办理.wav").unlink()
    with pytest.raises(VoiceError, match=r"lacks 办理\.wav"):
        ClipSet.load(folder, letters="A")
    make_clips(folder, letters="A")
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "1", "-b", "16", str(folder / "B.wav"), "synth", "0.2",
                    "sine", "500"], check=True)
    with pytest.raises(VoiceError, match=r"B\.wav is 44100 Hz but .* is 16000 Hz"):
        ClipSet.load(folder, letters="AB")
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "2", "-b", "16", str(folder / "B.wav"), "synth", "0.2",
                    "sine", "500"], check=True)
    with pytest.raises(VoiceError, match=r"B\.wav is 2 channel"):
        ClipSet.load(folder, letters="AB")
    (folder / "B.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(VoiceError, match=r"B\.wav is not a PCM WAV"):
        ClipSet.load(folder, letters="AB")


def test_voice_config_is_checked():
    from queued.config import parse_config
    from queued.errors import ConfigError
    from tests.support import hall_toml

    for body, message in (('engine = "festival"', r"voice\.engine \(line \d+\)"),
                          ('engine = "clips"', r"voice\.clips .*required"),
                          ("keep_minutes = 5", r"voice\.keep_minutes .*10\.\.1440"),
                          ('espeak_voice = "cmn; rm"', r"voice\.espeak_voice")):
        with pytest.raises(ConfigError, match=message):
            parse_config(hall_toml("x.sqlite3", extra=f"\n[voice]\n{body}\n"))
    with pytest.raises(ConfigError, match=r"screen\.notice"):
        parse_config(hall_toml("x.sqlite3", extra="\n[screen]\nnotice = \"" + "长" * 201 + "\"\n"))


async def test_every_call_names_its_wav_served_for_its_time(mosquitto, hall_with_screens, tmp_path, clock):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}")
    voice = hall.service.voice
    assert voice.engine == "espeak"
    async with Subscriber(mosquitto.port, CALLS) as sub:
        await hall.issue("A")
        await hall.act("1", "call-next")
        call = (await sub.wait_for(lambda m: m.topic == CALLS)).json()
        assert call["audio"].startswith("/audio/calls/") and call["audio"].endswith(".wav")
        assert call["repeat"] == 2  # [hall] announce_repeat
        r = await hall.http.get(call["audio"])
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        (tmp_path / "call.wav").write_bytes(r.content)
        audible(tmp_path / "call.wav", 3.0, 8.0)
        part = await hall.http.get(call["audio"], headers={"Range": "bytes=0-43"})
        assert part.status_code == 206 and part.content == r.content[:44]
        assert part.headers["content-range"] == f"bytes 0-43/{len(r.content)}"

        clock.advance(60)
        await hall.act("1", "recall")
        recall = (await sub.wait_for(lambda m: m.topic == CALLS and m.json()["kind"] == "recall")).json()
        assert recall["audio"] != call["audio"]  # each call its own URL…
        again = await hall.http.get(recall["audio"])
        assert again.content == r.content  # …the same phrase rendered once
        assert voice.counters.rendered_espeak == 1

        clock.advance(8 * 60 + 59)
        assert (await hall.http.get(call["audio"])).status_code == 200  # at least 10 minutes
        clock.advance(5 * 60 + 2)  # 15 minutes (keep_minutes) after the call
        gone = await hall.http.get(call["audio"])
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert voice.store.bytes == len(r.content)  # the recall still names it
        clock.advance(60)
        assert (await hall.http.get(recall["audio"])).status_code == 404
        assert voice.store.bytes == 0 and not voice.store.calls
    for bad in ("/audio/calls/../../etc/passwd.wav", "/audio/calls/%00.wav", "/audio/calls/ZZZZ.wav",
                "/audio/calls/0123456789abcdef.wav"):
        assert (await hall.http.get(bad)).status_code in (404, 422), bad


def slow_espeak(tmp_path, seconds: float) -> str:
    """espeak-ng that takes `seconds` longer to render (its --voices answers at once)."""
    slow = tmp_path / "slow-espeak"
    slow.write_text(f'#!/bin/sh\ncase "$*" in *" -w "*) sleep {seconds};; esac\nexec espeak-ng "$@"\n')
    slow.chmod(0o755)
    return f'\n[voice]\nengine = "espeak"\nespeak = "{slow}"\n'


async def test_the_call_is_not_held_back_for_a_slow_engine(mosquitto, hall_with_screens, tmp_path):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}", extra=slow_espeak(tmp_path, 1.5))
    async with Subscriber(mosquitto.port, CALLS) as sub:
        await hall.issue("A")
        sent = time.perf_counter()
        await hall.act("1", "call-next")
        call = await sub.wait_for(lambda m: m.topic == CALLS)
        assert call.at - sent < 1.0  # the message went out before the audio existed
        assert not hall.service.voice.store.audio
        r = await hall.http.get(call.json()["audio"])  # waits for the render instead of a 404
        assert r.status_code == 200 and time.perf_counter() - sent >= 1.5
        assert len(r.content) > 44


async def test_clips_speak_and_espeak_covers_what_they_cannot(mosquitto, hall_with_screens, tmp_path):
    make_clips(tmp_path / "clips")
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}",
                                   extra=f'\n[voice]\nclips = "{tmp_path / "clips"}"\n\n[[window]]\nid = "9"\n'
                                         f'name = "东区窗口"\nbusinesses = ["A"]\n')
    voice = hall.service.voice
    assert voice.engine == "clips"
    async with Subscriber(mosquitto.port, CALLS) as sub:
        await hall.issue("A")
        await hall.issue("A")
        await hall.act("1", "call-next")
        first = (await sub.wait_for(lambda m: m.topic == CALLS)).json()
        r = await hall.http.get(first["audio"])
        (tmp_path / "clips.wav").write_bytes(r.content)
        audible(tmp_path / "clips.wav", 2.0, 4.0)  # 11 clips of 0.2–0.26 s and 10 gaps
        assert voice.counters.rendered_clips == 1
        h9 = {"Authorization": f"Bearer {token(hall.daemon.config.database, 'clerk', '9')}"}
        r9 = await hall.http.post("/api/v1/windows/9/call-next", headers=h9)
        assert r9.status_code == 200, r9.text
        second = (await sub.wait_for(lambda m: m.topic == CALLS and m.json()["window"] == "9")).json()
        r = await hall.http.get(second["audio"])
        (tmp_path / "fallback.wav").write_bytes(r.content)
        audible(tmp_path / "fallback.wav", 3.0, 8.0)  # 东区 has no clip: espeak-ng said it
        assert voice.counters.fallbacks == 1


async def test_engine_off_names_no_audio(mosquitto, hall_with_screens):
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}", extra='\n[voice]\nengine = "off"\n')
    async with Subscriber(mosquitto.port, CALLS) as sub:
        await hall.issue("A")
        await hall.act("1", "call-next")
        call = (await sub.wait_for(lambda m: m.topic == CALLS)).json()
        assert "audio" not in call and call["speech"] == "请A001号到1号窗口办理"


def test_a_daemon_with_a_broken_clips_folder_does_not_start(tmp_path):
    from queued.config import parse_config
    from queued.daemon import Daemon
    from tests.support import hall_toml

    make_clips(tmp_path / "clips", letters="AB")  # the hall issues C too
    cfg = parse_config(hall_toml(str(tmp_path / "h.sqlite3"), extra=f'\n[voice]\nclips = "{tmp_path / "clips"}"\n'))
    with pytest.raises(VoiceError, match=r"lacks C\.wav"):
        Daemon(cfg, adapters=["display.service:DisplayService"])


async def test_rendering_does_not_run_on_the_loop(mosquitto, hall_with_screens, tmp_path):
    """While the engine renders (here 0.5 s a phrase), the loop keeps ticking: no tick waits for a render."""
    hall = await hall_with_screens(mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}", extra=slow_espeak(tmp_path, 0.5))
    for _ in range(3):
        await hall.issue("A")
    gaps = []
    stop = asyncio.Event()

    async def ticker():
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    t = asyncio.create_task(ticker())
    audio = []
    async with Subscriber(mosquitto.port, CALLS) as sub:
        for n in range(3):
            await hall.act("1", "call-next")
            audio.append((await sub.wait_for(lambda m, n=n: m.topic == CALLS and m.json()["ticket"] == f"A00{n + 1}"))
                         .json()["audio"])
            await hall.act("1", "finish")
    assert hall.service.voice.counters.rendered_espeak == 0  # nothing asked for them yet
    replies = await asyncio.gather(*(hall.http.get(a) for a in audio), *(hall.http.get(a) for a in audio))
    assert all(r.status_code == 200 and len(r.content) > 44 for r in replies)
    stop.set()
    await t
    assert hall.service.voice.counters.rendered_espeak == 3  # once each, for two players asking
    assert len(gaps) > 100 and max(gaps) < 0.3, max(gaps)  # on the loop, each render would stall it 0.5 s


async def speak_and_close(worker, text: str) -> bytes:
    try:
        data = await worker.render_async(text)
        pid = worker._proc.pid
        assert pid != os.getpid()  # spoken in espeak-ng's worker process
        assert (await worker.render_async(text))[:4] == b"RIFF" and worker._proc.pid == pid  # the same one
        return data
    finally:
        await worker.close()


def test_the_library_says_the_same_call_as_the_command_in_a_fraction_of_the_time(tmp_path):
    """libespeak-ng in process (the default): the same voice and text as the `espeak-ng` command,
    a few ms of CPU instead of a process per call."""

    from display.voice.libespeak import EspeakWorker, LibEspeak, open_espeak

    lib = open_espeak()
    assert isinstance(lib, EspeakWorker)  # the default binary name: the library, when installed
    lib.check()
    text = Phrase("A001", "3号窗口").engine_text()
    ours, theirs = tmp_path / "lib.wav", tmp_path / "cli.wav"
    ours.write_bytes(asyncio.run(speak_and_close(lib, text)))
    theirs.write_bytes(Espeak().render(text))
    a, b = audible(ours, 3.0, 8.0), audible(theirs, 3.0, 8.0)
    # The command pads ~0.4 s of silence at the end; the speech itself is the same voice.
    assert b["Length (seconds)"] - 0.6 < a["Length (seconds)"] <= b["Length (seconds)"] + 0.05, (a, b)
    assert abs(a["RMS     amplitude"] - b["RMS     amplitude"]) < 0.03, (a, b)
    local = LibEspeak()
    local.render(text)
    started = time.process_time()
    for _ in range(5):
        local.render(text)
    assert (time.process_time() - started) / 5 < 0.02  # the command: 20–50 ms of CPU a call
    assert lib.render(text)[:4] == b"RIFF"  # in process too, for a thread that renders rarely
    with pytest.raises(VoiceError):
        LibEspeak("no-such-voice").check()
