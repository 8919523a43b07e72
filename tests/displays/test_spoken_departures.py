"""Spoken departures: `stopcast speak` writes a WAV that speaks the board (espeak-ng, measured), the service
publishes retained audio only when the text or volume changes, and speech.wav answers over HTTP."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from aiohttp.test_utils import TestClient, TestServer
from servicekit import write_config

from displays.cli.cli import main
from displays.config.parse import load_config
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.shell.voice import OPUS_RATE, SpeechError
from displays.web.http import make_app
from feeds.times import parse_instant
from firmware_bridge.audio import FORMAT_OGG_OPUS, parse_audio, parse_request, text_hash
from firmware_bridge.messages import packet_room

AT = parse_instant("2026-11-25T08:00:05+01:00")
DISPLAYS = [{"id": "uni-tft", "stops": ["UNI"], "layout": "tft-320x240",
             "speech": {"languages": ["de", "en"], "volume": 0.9, "night_volume": 0.3, "night": "22:00-06:00"}},
            {"id": "gons-led", "stops": ["GONS"], "layout": "led-192x64"}]
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (Debian: apt-get install espeak-ng; make test does)",
)


def samples(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


class FakeVoice:
    """A synthesizer that answers at once with a WAV as long as the text (1 ms per character): the service's
    publishing logic is tested without the cost of real synthesis (real synthesis is tested below)."""

    available = True
    why_unavailable = ""

    def __init__(self) -> None:
        self.spoken: list[tuple[str, str]] = []

    async def synthesize(self, text: str, language: str) -> bytes:
        self.spoken.append((language, text))
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(22050)
            w.writeframes(b"\x10\x00" * (22 * len(text)))
        return out.getvalue()


class Mute:
    available = False
    why_unavailable = "espeak-ng is not installed (Debian: apt-get install espeak-ng); no speech"

    async def synthesize(self, text: str, language: str) -> bytes:
        raise SpeechError(self.why_unavailable)


@needs_espeak
def test_speak_writes_a_wav_that_speaks_the_board(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1))
    for language in ("de", "en"):
        out = tmp_path / f"uni-{language}.wav"
        assert main(["speak", "--config", str(config), "--display", "uni-tft", "--at", "2026-11-25T08:00:05+01:00",
                     "--lang", language, "--detail", "full", "--output", str(out)]) == 0
        said = capsys.readouterr().err.split(": ", 1)[1]
        assert said.startswith("Haltestelle Universität." if language == "de" else "Stop Universität.")
        pcm, rate = samples(out.read_bytes())
        seconds = len(pcm) / rate
        words = len(said.split())
        # Roughly 2 to 4 words a second; a German board's long compound names ("Hindemithstraße",
        # "ZDF-Sendezentrum") count as one word each and bring it to just under 2.
        assert 1.8 <= words / seconds <= 4, f"{words} words in {seconds:.1f} s"
        rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
        assert rms > 500, f"RMS {rms:.0f}: silence"  # speech is loud; silence is 0
        assert np.mean(np.abs(pcm) > 1000) > 0.2  # a fifth of the samples carry voice at least
    feed = tmp_path / "cfg" / "demo.zip"
    assert main(["speak", "--gtfs", str(feed), "--stop", "HBF", "--at", "2026-11-25T08:00:05+01:00",
                 "--output", str(tmp_path / "hbf.txt")]) == 0
    assert (tmp_path / "hbf.txt").read_text().startswith("Haltestelle Mainz Hauptbahnhof. ")


# spec: P-53
async def test_the_spoken_text_is_published_retained_and_only_when_it_or_the_volume_changes(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), DISPLAYS)
    clock, link, voice = FixedClock(AT), MemoryLink(), FakeVoice()
    service = Service(load_config(config), clock, config_path=config, cache_dir=tmp_path / "cache", link=link,
                      synthesizer=voice)
    await service.prepare()

    async def step() -> dict[str, tuple]:
        await service.refresh(int(clock.now()))
        while not service.speaker.queue.empty():
            await service.speaker.update(service.speaker.queue.get_nowait())
            service.speaker.queued.clear()
        return {
            p.topic: (json.loads(p.payload) if p.payload else None, p.retain)
            for p in link.take()
            if "/audio/" in p.topic
        }

    try:
        first = await step()
        texts = ["stopcast/v1/displays/uni-tft/audio/text/de", "stopcast/v1/displays/uni-tft/audio/text/en"]
        # the first time, the retained WAV an older service left on audio/{lang} is cleared
        assert sorted(first) == sorted(
            [*texts, "stopcast/v1/displays/uni-tft/audio/de", "stopcast/v1/displays/uni-tft/audio/en"]
        )
        assert first["stopcast/v1/displays/uni-tft/audio/de"] == (None, True)
        runtime = service.displays["uni-tft"]
        for language in ("de", "en"):
            doc, retain = first[f"stopcast/v1/displays/uni-tft/audio/text/{language}"]
            said = service.speaker.text(runtime, language)
            assert retain and doc == {
                "lang": language,
                "detail": "short",
                "text": said,
                "hash": f"{text_hash(said):08x}",
                "volume": 90,
            }
        assert voice.spoken == []  # no audio is made until a pillar asks
        assert all(len(json.dumps(first[t][0]).encode()) < 1024 for t in texts)  # small, instead of a 1.5 MB WAV
        clock.advance(20)  # same minute: the boards' texts did not change
        assert await step() == {}
        clock.advance(60)  # the countdowns moved: new texts
        changed = await step()
        assert sorted(changed) == texts
        assert all(doc["hash"] != first[t][0]["hash"] for t, (doc, _) in changed.items())
        clock.advance(14 * 3600)  # 22:01: night volume
        night = await step()
        assert {doc["volume"] for doc, _ in night.values()} == {30}
        assert not any("gons-led" in t for t in night)  # a display without speech publishes nothing
    finally:
        await service.close()


# spec: P-54, P-56
async def test_a_pillar_asks_for_audio_over_mqtt_and_gets_opus_in_ogg(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), DISPLAYS)
    clock, link, voice = FixedClock(AT), MemoryLink(), FakeVoice()
    service = Service(load_config(config), clock, config_path=config, cache_dir=tmp_path / "cache", link=link,
                      synthesizer=voice)
    await service.prepare()
    try:
        await service.refresh(AT)
        link.take()
        topic = "stopcast/v1/displays/uni-tft/audio/request"
        assert "stopcast/v1/displays/+/audio/request" in service.subscriptions()
        assert service.on_message(topic, b'{"lang": "en", "detail": "full"}') == []
        asked, _arrived = service.speaker.requests.get_nowait()
        answer = [p async for p in service.speaker.answer(asked)]
        said = service.speaker.text(service.displays["uni-tft"], "en", "full")
        assert answer[0].topic == "stopcast/v1/displays/uni-tft/audio/en" and not any(p.retain for p in answer)
        assert [p.topic for p in answer[1:]] == [
            f"stopcast/v1/displays/uni-tft/audio/en/{i}" for i in range(1, len(answer))
        ]
        seconds = 0.0
        for i, publish in enumerate(answer):
            header, body = parse_audio(publish.payload)
            assert header.format == FORMAT_OGG_OPUS and header.text_hash == text_hash(said) and header.volume == 90
            assert (header.index, header.count) == (i, len(answer))
            decoded, rate = soundfile.read(io.BytesIO(body))  # each chunk plays on its own
            assert rate == OPUS_RATE
            seconds += len(decoded) / rate
        assert abs(seconds - header.duration_ms / 1000) < 0.05 * len(answer)
        assert abs(seconds - len(said) / 1000) < 0.1  # the fake voice's 1 ms a character
        assert parse_audio(answer[0].payload)[0].count == len(answer)
        again = [p async for p in service.speaker.answer(asked)]  # a second press: the kept encoding
        assert [p.payload for p in again] == [p.payload for p in answer]
        for bad in (b"{", b'{"lang": "fr"}', b'{"lang": "de", "detail": "long"}', b"[]", b"x" * 300):
            before = service.metrics.value("stopcast_pillar_messages_rejected_total")
            service.on_message(topic, bad)
            assert (
                service.metrics.value("stopcast_pillar_messages_rejected_total") == before + 1
                and service.speaker.requests.empty()
            )
    finally:
        await service.close()


async def test_speech_wav_over_http_with_etag_and_without_espeak(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), DISPLAYS)
    for voice, working in ((FakeVoice(), True), (Mute(), False)):
        service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache",
                          synthesizer=voice)
        await service.prepare()
        await service.refresh(AT)
        client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
        await client.start_server()
        try:
            text = await client.get("/displays/gons-led/speech.txt?lang=en&detail=full")
            assert text.status == 200 and (await text.text()).startswith(
                "Stop Gonsenheim Kapellenstraße. Next departures:"
            )
            answer = await client.get("/displays/uni-tft/speech.wav?lang=de")
            if working:
                assert answer.status == 200 and answer.content_type == "audio/wav"
                assert answer.headers["X-Stopcast-Volume"] == "0.90"
                again = await client.get(
                    "/displays/uni-tft/speech.wav?lang=de", headers={"If-None-Match": answer.headers["ETag"]}
                )
                assert again.status == 304
                english = await client.get("/displays/uni-tft/speech.wav?lang=en")
                assert english.headers["ETag"] != answer.headers["ETag"]
                ogg = await client.get("/displays/uni-tft/speech.ogg?lang=es&detail=full")
                assert ogg.status == 200 and ogg.content_type == "audio/ogg"
                assert soundfile.info(io.BytesIO(await ogg.read())).subtype == "OPUS"
                assert (await client.get("/displays/uni-tft/speech.ogg?detail=long")).status == 400
            else:
                body = await answer.json()
                assert answer.status == 503 and "espeak-ng is not installed" in body["error"]
                assert (await client.get("/displays/uni-tft/frame.png")).status == 200  # frames go on
                health = await (await client.get("/healthz")).json()
                assert any("espeak-ng is not installed" in p and "uni-tft" in p for p in health["problems"])
            assert (await client.get("/displays/uni-tft/speech.wav?lang=fr")).status == 400
            assert (await client.get("/displays/nope/speech.wav")).status == 404
        finally:
            await client.close()
            await service.close()


# spec: P-52, P-56
@needs_espeak
async def test_with_a_small_max_packet_every_answer_chunk_fits_and_plays_on_its_own(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), DISPLAYS,
                          mqtt={"max_packet": 2048})
    service = Service(load_config(config), FixedClock(AT), config_path=config, cache_dir=tmp_path / "cache",
                      link=MemoryLink())
    await service.prepare()
    try:
        await service.refresh(AT)
        asked = parse_request("uni-tft", b'{"lang": "de"}', ("de",))
        answer = [p async for p in service.speaker.answer(asked)]
        assert len(answer) > 5 and all(packet_room(2048, p.topic) >= len(p.payload) for p in answer)
        seconds = sum(soundfile.info(io.BytesIO(parse_audio(p.payload)[1])).duration for p in answer)
        assert abs(seconds - parse_audio(answer[0].payload)[0].duration_ms / 1000) < 0.05 * len(answer)
    finally:
        await service.close()
