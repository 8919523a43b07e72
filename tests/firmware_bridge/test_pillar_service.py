"""The service's side of the pillar faults (issues 25 and 26): a deferred answer wakes the service's
ticker, no published message exceeds max_packet, pillars that scroll the ticker get no frame for alert
pages, pillars that ask too often show on /healthz, and rejected pillar messages do not flood the log."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from servicekit import DISPLAYS, write_config
from spec_pillar import SpecPillar, head
from speckit import spec
from test_conformance import EXTRA, PREFIX, Broker, make_world, run_until, start

from displays.core.ports import MemoryLink
from displays.ops import editorial
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.status import dashboard_doc, health_doc, metrics_text
from feeds.demo import simulated_realtime
from feeds.realtime import parse_feed
from feeds.times import parse_instant
from firmware_bridge.ticker import parse_ticker

AT = parse_instant("2026-11-25T08:00:05+01:00")
World = tuple[Service, MemoryLink, FixedClock, Path]
TICKERS = ("Aufzug am Hauptbahnhof defekt", "Linie 54 wird wegen Bauarbeiten umgeleitet", "Weinfest am Sonntag")


def ack_topic(display_id: str) -> str:
    return f"{PREFIX}/displays/{display_id}/ack"


@pytest.fixture
async def world(tmp_path: Path) -> World:
    """The conformance suite's service: nine displays of every layout and encoding, a memory link."""
    return await make_world(tmp_path)


async def quiet_moment(service: Service, broker: Broker, clock: FixedClock, ahead: int = 15) -> None:
    """Step until the ticker plans its next step more than `ahead` s ahead (no countdown or page changes soon)."""
    for _ in range(180):
        delay = await service.step()
        await broker.route(int(clock.now()))
        if delay > ahead:
            return
        clock.advance(max(1, int(delay)))
    raise AssertionError("no quiet moment in 180 steps")


@spec("P-44", "P-42")
async def test_a_request_deferred_by_the_gap_wakes_the_ticker_to_answer_when_the_gap_ends(world: World) -> None:
    service, link, clock, _ = world
    broker = Broker(link)
    await broker.route(AT)
    await run_until(service, broker, clock, AT + 2)
    await quiet_moment(service, broker, clock)
    ask = json.dumps({"hash": None, "need_full": True, "seq": -1}).encode()
    await link.deliver(ack_topic("hbf-epaper"), ask)
    first = int(clock.now())
    clock.advance(1)
    service.wake.clear()
    await link.deliver(ack_topic("hbf-epaper"), ask)  # within the 5 s gap: deferred
    assert service.wake.is_set()  # the ticker steps now and plans for the gap's end
    delay = await service.step()
    assert clock.now() + delay <= first + 5
    clock.advance(int(delay + 0.999))
    broker.published.clear()
    await service.step()
    await broker.route(int(clock.now()))
    assert [t for _, t, _ in broker.published if t == f"{PREFIX}/displays/hbf-epaper/frame"]


@spec("P-44", "P-40")
async def test_a_delta_answered_between_steps_wakes_the_ticker_for_the_missing_ack_wait(world: World) -> None:
    service, link, clock, _ = world
    broker = Broker(link)
    await broker.route(AT)
    await run_until(service, broker, clock, AT + 2)
    await link.deliver(f"{PREFIX}/displays/uni-tft/status", b'{"state": "online"}')
    await quiet_moment(service, broker, clock, ahead=25)
    clock.advance(6)  # past the gap after the whole frame it may have been sent at that step
    service.wake.clear()
    await link.deliver(ack_topic("uni-tft"), json.dumps({"hash": "00000001", "need_full": False}).encode())
    assert link.take()  # it was sent the whole frame on delta, and owes an ack for it
    assert service.wake.is_set()
    delay = await service.step()
    assert delay <= 15  # the wait for its ack, not the next countdown change


@pytest.fixture
async def small_packets(tmp_path: Path) -> World:
    config_path = write_config(tmp_path / "cfg", "mqtt://unused", dt.date(2026, 11, 1), DISPLAYS + EXTRA[:2],
                               feeds={"realtime": ["rt.pb"]}, mqtt={"url": "mqtt://unused", "max_packet": 1024})
    clock = FixedClock(AT)
    service, link = await start(config_path, clock)
    return service, link, clock, config_path


@spec("P-2", "P-46", "P-49")
async def test_no_message_the_service_publishes_exceeds_the_smallest_max_packet(small_packets: World) -> None:
    """The smallest max_packet check-config accepts (1024; the C pillar failed with 2048): every message fits."""
    service, link, clock, _ = small_packets
    broker = Broker(link)  # raises a Violation for any packet over max_packet
    import test_conformance
    test_conformance.MAX_PACKET, before = 1024, test_conformance.MAX_PACKET
    try:
        await broker.route(AT)
        pillars = [SpecPillar(d) for d in service.displays]
        for pillar in pillars:
            await broker.connect(pillar, AT)
        assert service.timetable is not None
        service.sources["rt.pb"].snapshot = parse_feed(simulated_realtime(service.timetable, AT), "rt.pb", AT)
        add_ticker_messages(service, TICKERS + ("Ersatzverkehr zwischen Hauptbahnhof und Universität " * 9,))
        await run_until(service, broker, clock, AT + 70)
    finally:
        test_conformance.MAX_PACKET = before
    boards = [p for _, t, p in broker.published if t.endswith("/board")]
    assert boards and all(json.loads(b)["stop_name"] for b in boards)
    for pillar in pillars:
        frame = service.displays[pillar.display_id].frame
        assert frame is not None and pillar.shown_hash == frame.hash, pillar.display_id
    assert service.metrics.value("stopcast_publish_oversize_total") == 0
    tickers = {t: p for _, t, p in broker.published if t.endswith("/ticker")}
    assert tickers[f"{PREFIX}/displays/uni-tft/ticker"] == b""  # too long for 1 KB: cleared, its frames page them
    assert all(parse_ticker(p).text_hash for p in tickers.values() if p)  # the LED's small strip fits: kept


def add_ticker_messages(service: Service, texts: tuple[str, ...] = TICKERS) -> None:
    """Ops ticker messages for every display (the LED pages them, the ticker topic carries them in one line)."""
    for text in texts:
        body = {"text": {"de": text, "en": text}, "kind": "ticker", "priority": 5, "targets": {"all": True}}
        service.set_editorial(editorial._with(service.editorial, editorial.parse_item(service, "message", body, None)))


async def deltas_to_led(service: Service, link: MemoryLink, clock: FixedClock, status: dict) -> tuple[int, set[int]]:
    """Deltas with pixels to the LED pillar over 4 minutes with three ticker messages, and the alert pages its
    boards showed."""
    broker = Broker(link)
    await broker.route(AT)
    pillar = SpecPillar("gons-led")
    await broker.connect(pillar, AT)
    await link.deliver(pillar.topic("status"), json.dumps(status).encode())
    add_ticker_messages(service)
    await run_until(service, broker, clock, AT + 20)
    broker.published.clear()
    await run_until(service, broker, clock, AT + 260)
    pages = {json.loads(p)["alert_page"] for _, t, p in broker.published if t == pillar.topic("board") and p}
    deltas = sum(1 for _, t, p in broker.published if t == pillar.topic("delta") and p and head(p).region[2])
    return deltas, pages


@spec("P-47")
async def test_a_pillar_that_scrolls_the_ticker_gets_no_delta_for_alert_pages(world: World, tmp_path: Path) -> None:
    service, link, clock, config_path = world
    paging, pages = await deltas_to_led(service, link, clock, {"state": "online"})
    assert paging > 8 and len(pages) > 1  # its alert pages flip every few seconds
    other, other_link = await start(config_path, FixedClock(AT))
    scrolling, pinned = await deltas_to_led(other, other_link, other.clock, {"state": "online", "ticker": True})  # type: ignore[arg-type]
    assert pinned == {0}  # the first page stays in the alert area, under the ticker the pillar scrolls
    assert scrolling <= 8 and 4 * scrolling < paging, (paging, scrolling)  # countdown changes only (7 without alerts)


@spec("P-45", "P-43")
async def test_a_pillar_that_asks_too_often_is_a_named_problem_and_a_metric(world: World) -> None:
    service, link, clock, _ = world
    broker = Broker(link)
    await broker.route(AT)
    await run_until(service, broker, clock, AT + 2)
    ask = json.dumps({"hash": None, "need_full": True}).encode()
    asked_from = int(clock.now())
    for _ in range(2):  # twice within the resend gap: one answer waits, which is no problem
        await link.deliver(ack_topic("hbf-epaper"), ask)
    for _ in range(30):
        await link.deliver(ack_topic("lcd"), ask)
        await broker.route(int(clock.now()))
        clock.advance(1)
    service.sources.clear()  # (the test's source has no feed health to report)
    problems = health_doc(service)["problems"]
    assert any(p.startswith("display lcd: pillar asks too often") for p in problems), problems
    assert not any("display hbf-epaper: pillar asks" in p for p in problems)
    assert "stopcast_pillar_answers_deferred_total 2" in metrics_text(service)  # 2x: at least 20 deferred
    displays = {d["id"]: d for d in dashboard_doc(service)["displays"]}
    assert displays["lcd"]["answers_deferred"] >= 20 and displays["hbf-epaper"]["answers_deferred"] == 1
    answered = {n for n, t, _ in broker.published if t.startswith(f"{PREFIX}/displays/lcd/frame") and n >= asked_from}
    assert 1 <= len(answered) <= 4, answered  # 30 requests in 30 s: answers 0, 5, 10, 20 s apart (6 before)


@spec("P-20")
async def test_rejected_pillar_messages_are_counted_and_logged_once_a_minute(world: World,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    service, link, clock, _ = world
    caplog.set_level(logging.WARNING, "stopcast")
    for i in range(4000):
        await link.deliver(ack_topic("hbf-epaper"), b"garbage %d" % i)
        if i % 1000 == 999:
            clock.advance(20)
    lines = [r for r in caplog.records if "ignored pillar message" in r.getMessage()]
    assert 1 <= len(lines) <= 2, len(lines)
    assert service.metrics.value("stopcast_pillar_messages_rejected_total") == 4000
    service.sources.clear()  # (the test's source has no feed health to report)
    assert "stopcast_pillar_messages_rejected_total 4000.0" in metrics_text(service)
