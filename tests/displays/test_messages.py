"""Ops messages and alert suppressions through the admin API, on the demo network and on BART's real feed:
who they reach, when they show, how they survive restarts, previews that publish nothing, the audit."""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from feedkit import shared_feed
from PIL import Image
from servicekit import DISPLAYS, write_config

from displays.config.parse import load_config
from displays.core.ports import MemoryLink
from displays.shell.clock import FixedClock
from displays.shell.service import Service
from displays.web.http import make_app
from feeds.realtime import parse_feed
from feeds.times import iso, parse_instant

AT = parse_instant("2026-11-25T08:00:05+01:00")
TOKEN = "ops-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TZ = "Europe/Berlin"
MORE = [*DISPLAYS, {"id": "hbf-c-tft", "stops": ["HBF:C"], "layout": "tft-320x240"},
        {"id": "weis-tft", "stops": ["WEIS"], "layout": "tft-320x240"}]


class Served:
    """A service on the demo network with its HTTP app, a fixed clock and an in-memory pillar link."""

    def __init__(self, service: Service, client: TestClient, clock: FixedClock, link: MemoryLink, config: Path) -> None:
        self.service, self.client, self.clock, self.link, self.config = service, client, clock, link, config

    async def post(self, path: str, doc: Any) -> tuple[int, Any]:
        answer = await self.client.post(path, json=doc, headers=AUTH)
        return answer.status, (await answer.json() if answer.status != 204 else None)

    async def boards(self) -> dict[str, dict[str, Any]]:
        """Every display's board.json after the service caught up with the clock."""
        await self.service.refresh(int(self.clock.now()))
        out = {}
        for display_id in self.service.displays:
            out[display_id] = await (await self.client.get(f"/displays/{display_id}/board.json")).json()
        return out

    async def showing(self, text: str) -> set[str]:
        """The displays whose board shows `text` in an alert page, a row or a takeover."""
        shown = set()
        for display_id, board in (await self.boards()).items():
            texts = [*board["alert_pages"], *(r["destination"] for r in board["rows"]), board["takeover_text"]]
            if any(text in t.replace("\n", " ") for t in texts):
                shown.add(display_id)
        return shown


async def _serve(tmp_path: Path, clock: FixedClock, config: Path) -> Served:
    link = MemoryLink()
    service = Service(load_config(config), clock, config_path=config, cache_dir=tmp_path / "cache", link=link)
    await service.prepare()
    await service.refresh(int(clock.now()))
    client = TestClient(TestServer(make_app(service), host="127.0.0.1"))
    await client.start_server()
    return Served(service, client, clock, link, config)


async def _close(served: Served) -> None:
    await served.client.close()
    await served.service.close()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Served]:
    config = write_config(
        tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), MORE, http={"admin_token": TOKEN}
    )
    served = await _serve(tmp_path, FixedClock(AT), config)
    yield served
    await _close(served)


def message(text: str, kind: str = "ticker", **fields: Any) -> dict[str, Any]:
    return {"text": {"de": text, "en": f"EN {text}"}, "kind": kind, "priority": 5, "targets": {"all": True}, **fields}


async def test_a_station_message_reaches_exactly_the_displays_of_its_stops(demo: Served) -> None:
    status, doc = await demo.post("/api/messages", message("Aufzug am Hauptbahnhof defekt", targets={"stops": ["HBF"]}))
    assert status == 201 and doc["id"] and doc["state"] == "active"
    # The station's own board, the board of two of its platforms and the board of a third; nothing else.
    assert await demo.showing("Aufzug am Hauptbahnhof defekt") == {"hbf-epaper", "hbf-bwr", "hbf-c-tft"}
    status, doc = await demo.post("/api/messages", message("Steig C gesperrt", targets={"stops": ["HBF:C"]}))
    assert status == 201
    assert await demo.showing("Steig C gesperrt") == {"hbf-epaper", "hbf-c-tft"}  # the station board shows platform C


async def test_a_route_message_reaches_every_display_the_route_serves(demo: Served) -> None:
    # Line 51 runs Lerchenberg - Bretzenheim - Universität - Hauptbahnhof A/B - ... - Weisenau (feeds/demo.py).
    await demo.post("/api/messages", message("Linie 51 wird umgeleitet", kind="row", targets={"routes": ["51"]}))
    assert await demo.showing("Linie 51 wird umgeleitet") == {"hbf-epaper", "hbf-bwr", "uni-tft", "weis-tft"}
    board = (await demo.boards())["uni-tft"]
    first = board["rows"][0]
    assert (first["status"], first["line"], first["destination"]) == ("message", "i", "Linie 51 wird umgeleitet")
    assert [r["status"] for r in board["rows"][1:]] and all(r["status"] != "message" for r in board["rows"][1:])


async def test_a_message_shows_only_within_its_period_and_daily_window_and_ends_by_itself(demo: Served) -> None:
    later = message("Ab 9 Uhr: Weinfest", starts=iso(AT + 3600, TZ), ends=iso(AT + 7200, TZ))
    nightly = message("Nachts Ersatzverkehr", daily={"from": "22:00", "to": "06:00"})
    local = message("Ortszeit ohne Versatz", starts="2026-11-25T08:30", ends="2026-11-25T08:45")
    for doc in (later, nightly, local):
        assert (await demo.post("/api/messages", doc))[0] == 201
    states = {m["text"]["de"]: m["state"] for m in await (await demo.client.get("/api/messages", headers=AUTH)).json()}
    assert states == {
        "Ab 9 Uhr: Weinfest": "scheduled",
        "Nachts Ersatzverkehr": "paused",
        "Ortszeit ohne Versatz": "scheduled",
    }
    assert await demo.showing("Weinfest") == set() and await demo.showing("Ersatzverkehr") == set()
    # A board that shows a message says when it changes next: the service wakes for a start and an end.
    assert demo.service.next_wake(AT) <= (AT // 60 + 1) * 60
    demo.clock.advance(30 * 60)  # 08:30:05: the offset-less time is Mainz time
    assert await demo.showing("Ortszeit ohne Versatz") == set(demo.service.displays)
    demo.clock.advance(3600)  # 09:30:05
    assert await demo.showing("Weinfest") == set(demo.service.displays)
    assert await demo.showing("Ortszeit ohne Versatz") == set()
    boards = await demo.boards()
    assert all(b["next_change"] <= AT + 7200 for b in boards.values())
    demo.clock.advance(3600)  # 10:30:05: ended by itself, without a restart or a request
    assert await demo.showing("Weinfest") == set()
    demo.clock.advance(12 * 3600)  # 22:30:05
    assert await demo.showing("Nachts Ersatzverkehr") == set(demo.service.displays)
    ended = {
        m["text"]["de"]: m["state"]
        for m in await (await demo.client.get("/api/messages?state=ended", headers=AUTH)).json()
    }
    assert ended == {"Ab 9 Uhr: Weinfest": "ended", "Ortszeit ohne Versatz": "ended"}


async def test_a_takeover_replaces_the_departures_and_keeps_name_and_clock(demo: Served) -> None:
    before = (await demo.boards())["uni-tft"]
    assert before["rows"]
    status, doc = await demo.post("/api/messages", message("Haltestelle wegen Polizeieinsatz gesperrt", kind="takeover",
                                                           priority=9, targets={"displays": ["uni-tft"]}))
    assert status == 201
    board = (await demo.boards())["uni-tft"]
    assert board["takeover_text"] == "Haltestelle wegen Polizeieinsatz gesperrt"
    assert (board["rows"], board["alert_pages"], board["stop_name"], board["clock_text"]) == (
        [],
        [],
        before["stop_name"],
        "08:00",
    )
    frame = Image.open(io.BytesIO(await (await demo.client.get("/displays/uni-tft/frame.png")).read()))
    assert frame.size == (320, 240)
    status, _ = await demo.post(f"/api/messages/{doc['id']}/end", {})
    assert status == 200
    assert (await demo.boards())["uni-tft"]["rows"]


async def test_english_displays_read_the_english_text(tmp_path: Path) -> None:
    displays = [{"id": "en-tft", "stops": ["UNI"], "layout": "tft-320x240", "language": "en"},
                {"id": "de-tft", "stops": ["UNI"], "layout": "tft-320x240"}]
    config = write_config(
        tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays, http={"admin_token": TOKEN}
    )
    served = await _serve(tmp_path, FixedClock(AT), config)
    try:
        await served.post("/api/messages", message("Zweisprachig"))
        assert await served.showing("EN Zweisprachig") == {"en-tft"}
        assert await served.showing("Zweisprachig") - await served.showing("EN Zweisprachig") == {"de-tft"}
    finally:
        await _close(served)


async def test_a_message_needs_the_languages_of_the_displays_it_reaches_and_no_other(tmp_path: Path) -> None:
    displays = [{"id": "en-tft", "stops": ["UNI"], "layout": "tft-320x240", "language": "en"},
                {"id": "de-tft", "stops": ["HBF"], "layout": "tft-320x240"}]
    config = write_config(
        tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays, http={"admin_token": TOKEN}
    )
    served = await _serve(tmp_path, FixedClock(AT), config)
    try:
        status, answer = await served.post("/api/messages", {"text": {"en": "Lift out of order"}, "kind": "ticker",
                                                             "targets": {"displays": ["en-tft"]}})
        assert status == 201, answer  # every display reached is English: no German text needed
        assert await served.showing("Lift out of order") == {"en-tft"}
        status, answer = await served.post("/api/messages", {"text": {"de": "Nur deutsch"}, "kind": "ticker",
                                                             "targets": {"all": True}})
        assert status == 422 and answer["error"].startswith("field 'text.en': the English text is required")
        assert "en-tft" in answer["error"] and "de-tft" not in answer["error"]
        status, _ = await served.post("/api/messages", {"text": {"de": "Nur deutsch"}, "kind": "ticker",
                                                        "targets": {"stops": ["HBF"]}})
        assert status == 201 and await served.showing("Nur deutsch") == {"de-tft"}
    finally:
        await _close(served)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"kind": "ticker", "targets": {"all": True}}, "text"),
        ({"text": {"en": "x"}, "kind": "ticker", "targets": {"all": True}}, "text.de"),
        ({"text": {"de": "x", "fr": "y"}, "kind": "ticker", "targets": {"all": True}}, "text.fr"),
        ({"text": {"de": "x"}, "kind": "banner", "targets": {"all": True}}, "kind"),
        ({"text": {"de": "x"}, "kind": "row", "priority": 10, "targets": {"all": True}}, "priority"),
        ({"text": {"de": "x"}, "kind": "row", "starts": "morgen", "targets": {"all": True}}, "starts"),
        (
            {
                "text": {"de": "x"},
                "kind": "row",
                "starts": "2026-11-25T09:00:00+01:00",
                "ends": "2026-11-25T08:00:00+01:00",
                "targets": {"all": True},
            },
            "ends",
        ),
        (
            {"text": {"de": "x"}, "kind": "row", "daily": {"from": "25:00", "to": "06:00"}, "targets": {"all": True}},
            "daily.from",
        ),
        ({"text": {"de": "x"}, "kind": "row", "targets": {}}, "targets"),
        ({"text": {"de": "x"}, "kind": "row", "targets": {"stops": ["NOWHERE"]}}, "targets.stops"),
        ({"text": {"de": "x"}, "kind": "row", "targets": {"routes": ["99"]}}, "targets.routes"),
        ({"text": {"de": "x"}, "kind": "row", "targets": {"displays": ["nope"]}}, "targets.displays"),
        ({"text": {"de": "x"}, "kind": "row", "targets": {"all": True}, "colour": "red"}, "body.colour"),
    ],
)
async def test_validation_errors_name_the_field(demo: Served, doc: dict, field: str) -> None:
    status, answer = await demo.post("/api/messages", doc)
    assert status == 422 and f"field '{field}'" in answer["error"], answer
    assert await (await demo.client.get("/api/messages", headers=AUTH)).json() == []


async def test_the_admin_api_needs_the_token_and_answers_json(demo: Served) -> None:
    assert (await demo.client.get("/api/messages")).status == 401
    assert (await demo.client.get("/api/suppressions", headers={"Authorization": "Bearer wrong"})).status == 403
    missing = await demo.client.get("/api/messages/m-nothere", headers=AUTH)
    assert missing.status == 404 and "no message 'm-nothere'" in (await missing.json())["error"]
    broken = await demo.client.post("/api/messages", data=b"{not json", headers=AUTH)
    assert broken.status == 400 and (await broken.json())["status"] == 400


async def test_preview_renders_every_reached_display_and_publishes_nothing(demo: Served) -> None:
    demo.link.take()
    status, doc = await demo.post("/api/messages?preview=1", message("Vorschau: Umleitung", targets={"stops": ["HBF"]}))
    assert status == 200 and doc["preview"] is True and doc["published"] is False
    assert sorted(doc["reached"]) == ["hbf-bwr", "hbf-c-tft", "hbf-epaper"]
    sizes = {}
    for entry in doc["displays"]:
        assert entry["png"].startswith("data:image/png;base64,")
        sizes[entry["id"]] = Image.open(io.BytesIO(base64.b64decode(entry["png"].split(",", 1)[1]))).size
    assert sizes == {"hbf-epaper": (800, 480), "hbf-bwr": (800, 480), "hbf-c-tft": (320, 240)}
    await demo.boards()
    assert demo.link.take() == []  # nothing went to the broker: no frame, no board
    assert await demo.showing("Vorschau") == set()
    assert await (await demo.client.get("/api/messages", headers=AUTH)).json() == []
    assert demo.service.audit.recent() == []
    # A PUT previews the replacement of a saved message, and leaves the saved one as it was.
    _, saved = await demo.post("/api/messages", message("Gespeichert", targets={"displays": ["uni-tft"]}))
    changed = await demo.client.put(f"/api/messages/{saved['id']}?preview=1", json=message("Geändert", kind="takeover"),
                                    headers=AUTH)
    answer = await changed.json()
    assert changed.status == 200 and answer["preview"] and len(answer["reached"]) == len(MORE)
    assert (await (await demo.client.get(f"/api/messages/{saved['id']}", headers=AUTH)).json())["text"][
        "de"
    ] == "Gespeichert"


async def test_every_change_is_audited(demo: Served) -> None:
    _, doc = await demo.post("/api/messages", message("Eins"))
    put = await demo.client.put(f"/api/messages/{doc['id']}", json=message("Zwei", kind="row"), headers=AUTH)
    assert put.status == 200 and (await put.json())["kind"] == "row"
    assert (await demo.post(f"/api/messages/{doc['id']}/end", {}))[0] == 200
    assert (await demo.client.delete(f"/api/messages/{doc['id']}", headers=AUTH)).status == 204
    _, rule = await demo.post("/api/suppressions", {"targets": {"displays": ["uni-tft"]}, "alerts": {"all": True},
                                                    "reason": "Hinweis passt nicht zur Haltestelle"})
    assert (await demo.client.delete(f"/api/suppressions/{rule['id']}", headers=AUTH)).status == 204
    audit = await (await demo.client.get("/api/audit", headers=AUTH)).json()
    assert [(e["action"], e["target"]) for e in audit][::-1] == [
        ("message.add", doc["id"]), ("message.change", doc["id"]), ("message.end", doc["id"]),
        ("message.remove", doc["id"]), ("suppression.add", rule["id"]), ("suppression.remove", rule["id"])]
    assert "Zwei" in audit[3]["detail"]
    assert audit[4]["detail"] == "text: de=Eins, en=EN Eins -> de=Zwei, en=EN Zwei; kind: ticker -> row"
    assert all(e["detail"] for e in audit)  # never an empty detail


async def test_messages_and_suppressions_survive_a_restart(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), MORE, http={"admin_token": TOKEN}
    )
    clock = FixedClock(AT)
    first = await _serve(tmp_path, clock, config)
    try:
        _, doc = await first.post("/api/messages", message("Bleibt über den Neustart", ends=iso(AT + 3600, TZ)))
        await first.post(
            "/api/suppressions", {"targets": {"all": True}, "alerts": {"routes": ["54"]}, "reason": "falsch"}
        )
    finally:
        await _close(first)
    clock.advance(60)
    second = await _serve(tmp_path, clock, config)
    try:
        listed = await (await second.client.get("/api/messages", headers=AUTH)).json()
        assert [(m["id"], m["text"]["de"], m["ends"]) for m in listed] == [
            (doc["id"], "Bleibt über den Neustart", doc["ends"])
        ]
        assert len(await (await second.client.get("/api/suppressions", headers=AUTH)).json()) == 1
        assert await second.showing("Bleibt über den Neustart") == set(second.service.displays)
        clock.advance(3600)
        assert await second.showing("Bleibt über den Neustart") == set()
    finally:
        await _close(second)


async def test_a_suppression_keeps_a_bart_alert_off_one_display_while_another_shows_it(tmp_path: Path) -> None:
    folder = shared_feed("bart")
    at = parse_feed((folder / "bart-alerts.pb").read_bytes(), "bart-alerts.pb", 0).header_timestamp
    displays = [{"id": "embr", "stops": ["EMBR"], "layout": "lcd-landscape-1920x1080", "language": "en"},
                {"id": "mont", "stops": ["MONT"], "layout": "lcd-landscape-1920x1080", "language": "en"}]
    config = write_config(
        tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date(2026, 11, 1), displays, http={"admin_token": TOKEN}
    )
    doc = load_config(config)
    text = config.read_text().replace(
        'gtfs = "demo.zip"', f'gtfs = "{folder / "bart-rt.zip"}"\nrealtime = ["{folder / "bart-alerts.pb"}"]'
    )
    config.write_text(text)
    assert doc.displays and "bart-alerts" in config.read_text()
    served = await _serve(tmp_path, FixedClock(at), config)
    try:
        await served.service.fetch_all()
        assert await served.showing("major delay at Montgomery") == {"embr", "mont"}
        status, rule = await served.post(
            "/api/suppressions",
            {
                "targets": {"displays": ["mont"]},
                "alerts": {"ids": ["BSA_187874"]},
                "reason": "Station staff announce it",
            },
        )
        assert status == 201 and rule["state"] == "active"
        assert await served.showing("major delay at Montgomery") == {"embr"}
        await served.client.delete(f"/api/suppressions/{rule['id']}", headers=AUTH)
        assert await served.showing("major delay at Montgomery") == {"embr", "mont"}
    finally:
        await _close(served)


async def test_changes_wait_until_the_shared_state_is_read(tmp_path: Path) -> None:
    """With [state] url an instance refuses admin changes until it has read the shared state: a change made
    before would be overwritten by the older shared version it reads next."""
    config = write_config(
        tmp_path / "cfg",
        "mqtt://127.0.0.1:1",
        dt.date(2026, 11, 1),
        MORE,
        http={"admin_token": TOKEN},
        state={"url": "postgresql://nobody@127.0.0.1:1/none"},
    )
    served = await _serve(tmp_path, FixedClock(AT), config)  # its shared-state task is not running: never read
    try:
        status, answer = await served.post("/api/messages", message("Zu früh"))
        assert status == 503 and "shared state" in answer["error"]
        status, _ = await served.post("/api/displays", {"id": "x", "stops": ["UNI"], "layout": "tft-320x240"})
        assert status == 503
    finally:
        await _close(served)


def test_a_suppression_by_route_takes_a_route_id_or_short_name() -> None:
    from displays.core.notices import Editorial, Period, Scope, Suppression, Targets, kept_alerts
    from feeds.alerts import Alert, Selector

    def alert(alert_id: str, route: str) -> Alert:
        return Alert(
            alert_id,
            (),
            (Selector(route_id=route),),
            "UNKNOWN_CAUSE",
            "DETOUR",
            "WARNING",
            (("en", "x"),),
            (),
            (),
            "a.pb",
        )

    alerts = (alert("a3", "3"), alert("a5", "5"))
    scope = Scope("mont", frozenset({"MONT"}), frozenset({"3", "5", "Orange", "Green"}))
    by_name = Suppression("s1", Targets(all=True), (), ("Orange",), False, Period(AT - 60), "wrong line")
    by_id = Suppression("s2", Targets(displays=("mont",)), (), ("5",), False, Period(AT - 60), "wrong line")
    names = {"3": "Orange", "5": "Green"}
    assert [a.alert_id for a in kept_alerts(alerts, Editorial((), (by_name,)), scope, AT, TZ, names)] == ["a5"]
    assert [a.alert_id for a in kept_alerts(alerts, Editorial((), (by_id,)), scope, AT, TZ, names)] == ["a3"]
    elsewhere = Scope("embr", frozenset({"EMBR"}), frozenset({"3"}))
    assert len(kept_alerts(alerts, Editorial((), (by_id,)), elsewhere, AT, TZ, names)) == 2  # not its target
    ended = Suppression("s3", Targets(all=True), (), (), True, Period(AT - 600, AT - 60), "over")
    assert len(kept_alerts(alerts, Editorial((), (ended,)), scope, AT, TZ, names)) == 2  # its period has ended
