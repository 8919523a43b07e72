"""The first press of the button, measured on the audio espeak-ng makes: at most 20 s in German, English and
Spanish, on the Mainz board (long names, a delay, a cancellation, a platform change, an alert) and on BART's
real feed (its real alert, written in English only); the Ogg Opus answer at most 48 KB; each alert said in the
voice's language or announced in its own; the lexicon applied ("Montgomery St." is never "Montgomery Sankt")."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import pytest
import soundfile
from boardkit import NOW, TZ, stop_departures

from displays.core.boards import compose_board
from displays.shell.speaking import announce
from displays.shell.voice import EspeakSynthesizer, ogg_opus, wav_seconds
from feeds.cache import open_timetable
from feeds.live import build_live
from feeds.realtime import RealtimeRules, parse_feed
from layouts.board import Board, BoardInput, DisplaySettings, build_board
from layouts.spec import load_layout
from layouts.speech import SHORT_SECONDS, spoken_text

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed (Debian: apt-get install espeak-ng; make test does)")
SPEC = load_layout("lcd-landscape-1920x1080")
BART = Path(__file__).resolve().parents[3] / "shared" / "data" / "bart"
MAX_OGG = 48 * 1024


def _mainz() -> Board:
    return build_board(SPEC, DisplaySettings(), BoardInput(stop_departures(), TZ, data_as_of=NOW - 20), NOW)


def _bart(stop: str) -> Board:
    if not BART.is_dir():
        pytest.skip(f"the real feeds are not at {BART}")
    tt = open_timetable(BART / "bart-rt.zip", None)
    feeds = [parse_feed((BART / name).read_bytes(), name, 0) for name in ("bart-trip-updates.pb", "bart-alerts.pb")]
    at = feeds[0].header_timestamp
    live = build_live(tt, feeds, at, RealtimeRules(stale_after=10**9))
    return compose_board(tt, live, stop, SPEC, DisplaySettings(), at, realtime_configured=True)


def _first_press(board: Board, language: str) -> tuple[str, bytes]:
    return asyncio.run(announce(EspeakSynthesizer(), lambda budget: spoken_text(board, language, None, "short", budget),
                                language, "short"))


# spec: P-57
@pytest.mark.parametrize("language", ["de", "en", "es"])
def test_the_first_press_on_the_mainz_board_lasts_at_most_20_s(language: str) -> None:
    said, wav = _first_press(_mainz(), language)
    assert wav_seconds(wav) <= SHORT_SECONDS, said
    assert said.count(", ") >= 4  # departures were said, not only the stop
    ogg = ogg_opus(wav)
    decoded, rate = soundfile.read(io.BytesIO(ogg))
    assert len(ogg) <= MAX_OGG and abs(len(decoded) / rate - wav_seconds(wav)) < 0.1
    full = asyncio.run(EspeakSynthesizer().synthesize(spoken_text(_mainz(), language, detail="full"), language))
    assert wav_seconds(full) > wav_seconds(wav) + 10  # the second press tells the rest


@pytest.mark.realdata
@pytest.mark.parametrize(("language", "stop_said", "alert_said"), [
    # the one-line summary carries the key fact (the station is closed) and, in a voice of another language than
    # the alert's, its effect in the voice's language
    ("de", "Haltestelle Montgomery Street.",
     "Störung: große Verspätungen. Hinweis auf Englisch: Montgomery station is currently closed."),
    ("en", "Stop Montgomery Street.", "Notice: Montgomery station is currently closed."),
    ("es", "Parada Montgomery Street.",
     "Incidencia: retrasos importantes. Aviso en inglés: Montgomery station is currently closed."),
])
def test_the_first_press_at_bart_montgomery_in_each_language(language: str, stop_said: str, alert_said: str) -> None:
    board = _bart("MONT")
    said, wav = _first_press(board, language)
    assert said.startswith(stop_said) and alert_said in said and "Sankt" not in said
    seconds = wav_seconds(wav)
    assert seconds <= SHORT_SECONDS, f"{seconds:.1f} s: {said}"
    departures = sum(1 for row in board.rows[:4] if row.headsign.split(" /")[0] in said)
    assert departures >= min(3, len(board.rows)), said
    assert len(ogg_opus(wav)) <= MAX_OGG
