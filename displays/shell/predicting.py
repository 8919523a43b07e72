"""Keeping every display's forecast (docs/mqtt.md, "Forecast") on the broker: after each refresh, the
displays with a pillar online whose inputs changed (at most once a minute) or whose forecast runs short
have their next minutes composed with the delays known now; a prediction whose boards differ from the last
one is rendered, and republished only when it draws a minute differently from the published forecast (or
that one runs short): a delay that moves no countdown shown costs no bytes. (A forecast costs 16
compositions per display and minute of changing realtime, and 16 renderings when the boards change.)"""

from __future__ import annotations

import asyncio
from typing import Protocol

from displays.config.model import DisplayConfig, ServiceConfig
from displays.core.engine import DisplayRuntime
from displays.core.forecasting import forecast_board, forecast_times, reaches, same_frames, same_prediction
from displays.core.frames import RenderJob, frame_of
from displays.core.notices import Editorial
from displays.core.ports import Renderer
from feeds.live import LiveState
from feeds.timetable import Timetable
from firmware_bridge.codec import HEADER
from firmware_bridge.messages import packet_room
from firmware_bridge.protocol import Bridge, ForecastStep, Publish
from firmware_bridge.topics import display_topic
from layouts.board import Board
from layouts.spec import LayoutSpec


class Service(Protocol):
    """What keeping the forecasts needs of the service node (displays/shell/service.py)."""

    renderer: Renderer

    @property
    def config(self) -> ServiceConfig: ...

    @property
    def displays(self) -> dict[str, DisplayRuntime]: ...

    @property
    def bridge(self) -> Bridge: ...

    @property
    def editorial(self) -> Editorial: ...

    @property
    def timetable(self) -> Timetable | None: ...

    def inputs(self) -> tuple: ...

    def live_state(self, now: int) -> LiveState | None: ...

    def compose(self, display: DisplayConfig, spec: LayoutSpec, now: int, live: LiveState | None, editorial: Editorial,
                previous: Board | None = None, shared: dict | None = None) -> Board: ...

    def display_failed(self, runtime: DisplayRuntime, stage: str, exc: BaseException | str, now: int) -> None: ...

EVERY = 60  # seconds: a display's forecast is predicted again at most this often while its inputs change


def _predicted(service: Service, runtime: DisplayRuntime, now: int, span: int, known: tuple) -> list[tuple[int, Board]]:
    """The forecast boards of one display: (start, board) for each step."""
    live, editorial = known
    board = runtime.board
    assert board is not None
    steps: list[tuple[int, Board]] = []
    previous, page = board, None
    for start in forecast_times(board.true_until, now, span):
        previous = service.compose(runtime.config, runtime.spec, start, live, editorial, previous)
        page = previous.alert_page if page is None else page
        steps.append((start, forecast_board(previous, page)))
    return steps


def _due(service: Service, now: int, keep: int, inputs: tuple) -> list[DisplayRuntime]:
    """The displays whose forecast may have to change: inputs changed (at most once every EVERY seconds) or
    it runs short, a pillar online to show it, and a frame small enough for minutes of forecast in max_packet."""
    max_packet, prefix = service.config.mqtt.max_packet, service.config.mqtt.prefix
    due = []
    for runtime in service.displays.values():
        if runtime.board is None or runtime.frame is None:
            continue
        last = runtime.forecast[-1][0] + 59 if runtime.forecast else 0
        if last - now >= keep and (runtime.forecast_inputs == inputs or now - runtime.forecast_at < EVERY):
            continue
        pillar = service.bridge.pillar(runtime.config.id)
        if pillar is None or not pillar.online:
            continue  # nobody to show it (a pillar coming online gets one with the next refresh)
        room = packet_room(max_packet, display_topic(prefix, runtime.config.id, "next"))
        if 2 * (HEADER.size + len(runtime.frame.full_body or b"")) > room:
            continue  # its first step alone would take half of max_packet: minutes of forecast would not fit
        due.append(runtime)
    return due


async def forecasts(service: Service, now: int, batch: int = 128) -> list[Publish]:
    """The forecasts to republish at `now` (see the module's docstring). The boards of every display whose
    prediction changed go to the renderer together, in batches that run in parallel (a render pool's workers)."""
    minutes = service.config.mqtt.forecast_minutes
    if minutes <= 0 or service.timetable is None:
        return []
    keep, span, inputs = minutes * 60, minutes * 90, service.inputs()
    due = _due(service, now, keep, inputs)
    if not due:
        return []
    known = (service.live_state(now), service.editorial.current(now))
    changed: list[tuple[DisplayRuntime, list[tuple[int, Board]]]] = []
    for runtime in due:
        try:
            predicted = _predicted(service, runtime, now, span, known)
        except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
            service.display_failed(runtime, "composing its forecast", exc, now)
            continue
        runtime.forecast_inputs, runtime.forecast_at = inputs, now
        if not reaches(runtime.forecast, now, keep) or not same_prediction(runtime.forecast_seen, predicted, now, 0):
            changed.append((runtime, predicted))
    jobs: list[RenderJob] = [(board, r.spec, r.encoding, r.config.compress) for r, predicted in changed
                             for _, board in predicted]
    batches = await asyncio.gather(*(service.renderer.render(jobs[i:i + batch]) for i in range(0, len(jobs), batch)))
    rendered = [r for done in batches for r in done]
    out: list[Publish] = []
    for runtime, predicted in changed:
        mine, rendered = rendered[: len(predicted)], rendered[len(predicted):]
        frames = [frame_of(r, b"") for r in mine if not isinstance(r, str)]
        if len(frames) < len(mine):
            service.display_failed(runtime, "rendering its forecast", next(r for r in mine if isinstance(r, str)), now)
            continue
        runtime.forecast_seen = predicted
        hashes = [(start, frame.hash) for (start, _), frame in zip(predicted, frames, strict=True)]
        if not reaches(runtime.forecast, now, keep) or not same_frames(runtime.forecast_hashes, hashes):
            ends = [start - 1 for start, _ in predicted[1:]] + [predicted[-1][0] + 59]
            steps = [
                ForecastStep(start, end, frame) for (start, _), end, frame in zip(predicted, ends, frames, strict=True)
            ]
            runtime.forecast, runtime.forecast_hashes = predicted, dict(hashes)
            out += service.bridge.forecast(runtime.config.id, steps, minutes, now)
    return out
