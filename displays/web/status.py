"""What ops see: the dashboard's data, /healthz and /metrics, from one reading of the service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from displays.core.engine import DisplayRuntime
from displays.core.humane import ago as _ago
from displays.core.humane import duration as _duration
from displays.core.humane import local_time, now_text
from displays.core.notices import Period, message_doc, suppression_doc
from displays.core.pillar_limits import asks_too_often
from displays.core.validity import timetable_problems, timetable_validity
from displays.web.pulls import Pulls
from displays.web.view import View
from feeds.times import iso
from firmware_bridge.protocol import PillarView
from layouts.board import Board
from layouts.spec import builtin_names


def _when(service: View, instant: int | None) -> str | None:
    tz = service.timetable.timezone if service.timetable else "UTC"
    return iso(instant, tz) if instant else None


def _local(service: View, instant: int | None, now: int) -> str:
    """An instant as ops read it: local time, as short as `now` allows ('' for None)."""
    return local_time(instant, service.timezone(), now)


def feeds_doc(service: View, now: int) -> list[dict[str, Any]]:
    """Each realtime source's health; stale, frozen, collapsed and failing ones say so, with what the merge put
    right in their data (re-dated trips, wormholes, predictions too early to believe)."""
    out = []
    frozen_after = service.config.feeds.frozen_after
    for source in service.sources.values():
        h = source.health
        stale_after = source.source.stale_after
        found = service.findings(h.source)
        out.append({
            "source": h.source,
            "age_seconds": h.age(now),
            "age_text": _ago(now - age, now) if (age := h.age(now)) is not None else "no data yet",
            "stale": h.is_stale(now, stale_after, frozen_after),
            "frozen": h.frozen(now, frozen_after),
            "unchanged_seconds": None if h.changed_at is None else now - h.changed_at,
            "collapse": h.collapse,
            "kept_trip_updates": found.kept,
            "redated_trip_updates": found.redated,
            "wormhole_trips_dropped": found.wormholes,
            "early_predictions_ignored": found.early,
            "failing": h.consecutive_failures > 0,
            "from_future": h.from_future(now),
            "last_success": _when(service, h.last_success),
            "header_timestamp": _when(service, h.header_timestamp),
            "header_text": _local(service, h.header_timestamp, now),
            "trip_updates": h.trip_updates,
            "vehicles": h.vehicles,
            "alerts": h.alerts,
            "last_error": h.last_error,
            "consecutive_failures": h.consecutive_failures,
        })
    return out


def _stop_names(service: View, stop_ids: tuple[str, ...]) -> list[str]:
    """The stops' names as riders know them, with the platform where there is one (ids as a fallback)."""
    tt = service.timetable
    names = []
    for stop_id in stop_ids:
        if tt is None or stop_id not in tt.stop_index:
            names.append(stop_id)
            continue
        stop = tt.stops[tt.stop_index[stop_id]]
        names.append(f"{stop.name} ({stop.platform_code})" if stop.platform_code else stop.name)
    return list(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class Presence:
    """Whether a display's pillar is there, and how we know."""

    state: str  # online (MQTT), pulling (HTTP device), browser (a browser screen), offline, never seen, dark
    mqtt_online: bool
    pulling: bool
    last_seen: int | None
    reason: str = ""  # why it is dark

    @property
    def alarm(self) -> str:
        """How the dashboard marks it: 'bad' (dark: a problem), 'warn' (not there yet, not a problem yet), ''."""
        return "bad" if self.state == "dark" else ("warn" if self.state in ("offline", "never seen") else "")


def _presence(service: View, runtime: DisplayRuntime, pillar: PillarView | None, last_pull: int | None,
              now: int) -> Presence:
    """A pillar is online by its own MQTT status (with a Last Will), or pulling when it fetched its
    frame as an authenticated device within dark_after; browsers and anonymous pulls never count. A display
    configured as a browser screen (reached_by = "browser") has no pillar to watch: it is never dark. Any
    other display silent for longer than dark_after (since it was last seen, or since the service started)
    is dark."""
    dark_after = runtime.config.dark_after
    mqtt_online = bool(pillar and pillar.online)
    pulling = last_pull is not None and now - last_pull <= dark_after
    seen = [t for t in (pillar.last_seen if pillar else None, last_pull) if t is not None]
    last_seen = max(seen) if seen else None
    if mqtt_online:
        return Presence("online", True, pulling, last_seen)
    if pulling:
        return Presence("pulling", False, True, last_seen)
    if runtime.config.reached_by == "browser":
        return Presence("browser", False, False, last_seen)
    quiet_since = last_seen if last_seen is not None else service.started_at
    if now - quiet_since <= dark_after:
        return Presence("offline" if last_seen is not None else "never seen", False, False, last_seen)
    if runtime.config.reached_by == "http":
        said = "no authenticated device pull"
    else:
        said = "said offline, and nothing" if pillar and pillar.last_seen else "no MQTT status and no device pull"
    since = f"since {_local(service, last_seen, now)}" if last_seen else "since the service started"
    return Presence("dark", False, False, last_seen, f"{said} {since} ({_ago(quiet_since, now)}; dark after "
                    f"{_duration(dark_after)})")


def _disruptions(board: Board | None) -> dict[str, list[str]]:
    """The board's alert pages and its cancelled or skipped departures, as the dashboard lists them."""
    return {
        "alerts": list(board.alert_pages) if board else [],
        "cancellations": [f"{r.time_text} {r.line} {r.destination}: {r.status_text}" for r in board.rows
                          if r.status in ("cancelled", "skipped")] if board else [],
    }


def display_status(service: View, display_id: str, runtime: DisplayRuntime, pulls: Pulls | None,
                   now: int) -> dict[str, Any]:
    """One display as the dashboard shows it."""
    pillar = service.bridge.pillar(display_id)
    pull = pulls.get(display_id) if pulls is not None else None
    board, last_pull = runtime.board, (pull.last_pull if pull else None)
    presence = _presence(service, runtime, pillar, last_pull, now)
    state, mqtt_online, pulling = presence.state, presence.mqtt_online, presence.pulling
    if pulls is not None:
        pulls.history.record(display_id, now, state)
    return {
        "id": display_id,
        "name": runtime.config.name or (board.stop_name if board else ""),
        "stops": list(runtime.config.stops),
        "stop_names": _stop_names(service, runtime.config.stops),
        "last_seen_ago": _ago(presence.last_seen, now),
        "last_ack_ago": _ago(pillar.last_ack_at if pillar else None, now),
        "last_frame_ago": _ago(pillar.last_frame_at if pillar else None, now),
        **_disruptions(board),
        "history": pulls.history.segments(display_id, now) if pulls is not None else [],
        "layout": runtime.spec.name,
        "size": f"{runtime.spec.width}x{runtime.spec.height}",
        "portrait": runtime.spec.height > runtime.spec.width,
        "color_mode": runtime.spec.color_mode,
        "online": mqtt_online or pulling,
        "state": state,
        "reached_by": runtime.config.reached_by,
        "pages_open": len(pull.subscribers) if pull else 0,
        "alarm": "bad" if runtime.error else presence.alarm,
        "via": "mqtt" if mqtt_online else ("http" if pulling else None),
        "last_pull": _when(service, last_pull),
        "rendered_text": _local(service, runtime.rendered_at, now),
        "error_since": _local(service, runtime.error_at, now),
        "last_seen": _when(service, presence.last_seen),
        "dark_reason": presence.reason,
        "pull_device": pull.device_name if pull else "",
        "pillar": dict(pillar.status) if pillar else {},
        "device": dict(pull.device) if pull else {},
        "in_sync": bool(pillar and pillar.in_sync),
        "answers_deferred": pillar.limited if pillar else 0,  # requests the answer limits held back (docs/mqtt.md)
        "last_ack": _when(service, pillar.last_ack_at if pillar else None),
        "last_frame": _when(service, pillar.last_frame_at if pillar else None),
        "rendered": _when(service, runtime.rendered_at),
        "hash": f"{runtime.frame.hash:08x}" if runtime.frame else None,
        "rows": len(board.rows) if board else 0,
        "timetable_only": bool(board and board.timetable_only),
        "empty_text": board.empty_text if board else "",
        "error": runtime.error,
        "error_at": _when(service, runtime.error_at),
    }


def dashboard_doc(service: View, pulls: Pulls | None = None) -> dict[str, Any]:
    """Everything the dashboard shows (`pulls`: the HTTP side's state, for pulling devices)."""
    now = int(service.clock.now())
    displays = [display_status(service, d, r, pulls, now) for d, r in sorted(service.displays.items())]
    feeds = feeds_doc(service, now)
    dark = [(d["id"], d["dark_reason"]) for d in displays if d["state"] == "dark"]
    timetable = service.timetable
    tz = service.timezone()
    return {
        "now": _when(service, now),
        "now_ts": now,
        "now_text": now_text(now, tz),
        "browsers": sum(d["state"] == "browser" for d in displays),
        "waiting": sum(d["alarm"] == "warn" for d in displays),
        "layouts": builtin_names() + [name for name, _ in service.config.layouts],
        "broker": {"connected": service.broker_connected, "url": service.config.mqtt.url,
                   "error": service.broker_error},
        "timetable": {
            "loaded": timetable is not None,
            "source": service.config.feeds.gtfs,
            "stops": len(timetable.stops) if timetable else 0,
            "trips": len(timetable.trip_ids) if timetable else 0,
            "loaded_at": _when(service, service.timetable_loaded_at),
            "error": service.timetable_error,
            **timetable_validity(timetable, now),
        },
        "feeds": feeds,
        "displays": displays,
        "online": sum(d["online"] for d in displays),
        "shard": f"{service.shard[0]}/{service.shard[1]}",
        "reload_error": service.last_reload_error,
        "problems": _problems(service, feeds, dark, now),
        "audit": [{"at": _when(service, e.at), "at_text": _local(service, e.at, now), "ago": _ago(e.at, now),
                   "who": e.who, "action": e.action, "target": e.target, "detail": e.detail}
                  for e in service.audit.recent(10)],
        "messages": [_with_period_text(message_doc(m, tz, now), m.period, tz, now) for m in service.editorial.messages],
        "suppressions": [_with_period_text(suppression_doc(r, tz, now), r.period, tz, now)
                         for r in service.editorial.suppressions],
    }


def _with_period_text(doc: dict[str, Any], period: Period, tz: str, now: int) -> dict[str, Any]:
    """A message's or suppression's JSON with its period in local, human time (starts_text, ends_text)."""
    doc["starts_text"] = local_time(period.starts, tz, now)
    doc["ends_text"] = local_time(period.ends, tz, now) if period.ends is not None else "until ended"
    return doc


def health_doc(service: View, pulls: Pulls | None = None) -> dict[str, Any]:
    """/healthz: serving, and what is degraded (`pulls`: the HTTP side's state, for pulling devices)."""
    now = int(service.clock.now())
    feeds = feeds_doc(service, now)
    dark = [(d, p.reason) for d, p in presences(service, pulls, now) if p.state == "dark"]
    problems = _problems(service, feeds, dark, now)
    waiting = sorted(d for d, r in service.displays.items() if r.frame is None and r.error is None)
    return {
        "status": "starting" if waiting else ("ok" if not problems else "degraded"),
        "waiting_for_first_frame": waiting,
        "problems": problems,
        "displays": len(service.displays),
        "timetable": {"loaded": service.timetable is not None, "error": service.timetable_error},
        "broker": {"connected": service.broker_connected, "error": service.broker_error or None},
        "feeds": feeds,
        "uptime_seconds": now - service.started_at,
        "instance": {"name": service.instance, "epoch": service.bridge.epoch, "live": list(service.membership.live()),
                     "shard": f"{service.shard[0]}/{service.shard[1]}"},
    }


def presences(service: View, pulls: Pulls | None, now: int) -> list[tuple[str, Presence]]:
    """Every display's presence at `now` (recorded in the presence history when `pulls` is given)."""
    out = []
    for display_id, runtime in sorted(service.displays.items()):
        pull = pulls.get(display_id) if pulls is not None else None
        presence = _presence(service, runtime, service.bridge.pillar(display_id), pull.last_pull if pull else None, now)
        if pulls is not None:
            pulls.history.record(display_id, now, presence.state)
        out.append((display_id, presence))
    return out


def _problems(service: View, feeds: list[dict[str, Any]], dark: list[tuple[str, str]], now: int) -> list[str]:
    """Everything ops should fix, in the order /healthz and the dashboard list it."""
    problems = []
    if service.timetable is None:
        problems.append("no timetable loaded")
    else:
        problems += timetable_problems(service.timetable, now)
    if not service.broker_connected:
        problems.append("not connected to the MQTT broker")
    if service.sharing is not None and service.sharing.problem():
        problems.append(service.sharing.problem())
    elif service.sharing is not None and service.sharing.source != "database":
        problems.append("the shared state (PostgreSQL) has not been read yet; admin changes are refused (503)")
    speaking = [d.id for d in service.config.displays if d.speech.languages]
    if speaking and not service.speaker.synthesizer.available:
        problems.append(f"{service.speaker.synthesizer.why_unavailable} for {len(speaking)} display(s) with speech "
                        f"({', '.join(speaking[:5])}{', ...' if len(speaking) > 5 else ''}); frames are not affected")
    elif service.speaker.error:
        problems.append(f"speech: {service.speaker.error} (frames are not affected)")
    if service.store_error:
        problems.append(service.store_error)
    if service.store_write_error:
        problems.append(f"state store: {service.store_write_error}")
    for f in feeds:
        problems += _feed_problems(f)
    problems += [f"display {d}: {r.error}" for d, r in sorted(service.displays.items()) if r.error]
    problems += [f"display {d}: pillar dark: {reason}" for d, reason in dark]
    problems += [p for d in sorted(service.displays) if (p := asks_too_often(d, service.bridge.pillar(d), now))]
    if service.last_reload_error:
        problems.append(f"config reload failed, the running config stays: {service.last_reload_error}")
    problems += service.membership.problems()  # another deployment on our broker and prefix, a forged instance
    membership, peers = service.membership, service.config.service.peers
    problems += [f"instance {m.name} announces {m.http[:100]} but neither proves the deployment's shared secret "
                 "([service] secret_env) nor is listed in [service] peers: requests for its displays are not passed "
                 "to it"
                 for m in sorted(membership.members.values(), key=lambda m: m.name)
                 if membership.alive(m) and m.http and not m.proven and m.http.rstrip("/") not in peers]
    return problems


def _feed_problems(f: dict[str, Any]) -> list[str]:
    """What is wrong with one realtime feed (an entry of `feeds_doc`), as _problems lists it."""
    problems: list[str] = []
    if f["from_future"]:
        problems.append(f"realtime {f['source']}: header timestamp {f['header_text']} is "
                        "more than 5 minutes ahead of now (producer's clock wrong?); not shown as live")
    elif f["frozen"]:
        problems.append(f"realtime {f['source']} is frozen: its content has not changed for "
                        f"{f['unchanged_seconds']} s (the server still answers); not shown as live")
    elif f["stale"]:
        problems.append(f"realtime {f['source']} is stale: last data {f['age_text']}")
    if f["collapse"]:
        problems.append(f"realtime {f['source']}: {f['collapse']}; {f['kept_trip_updates']} trip updates of the "
                        "last good dataset are kept until they are stale")
    if f["failing"]:
        problems.append(f"realtime {f['source']} is failing ({f['consecutive_failures']} attempts): "
                        f"{f['last_error']}")
    return problems


def _pillars_online(service: View) -> int:
    return sum(1 for d in service.displays if (p := service.bridge.pillar(d)) and p.online)


# Values read from the service when /metrics is scraped: (name, help, type, reading). Add one line per metric.
READINGS: tuple[tuple[str, str, str, Callable[[View], float]], ...] = (
    ("stopcast_displays", "Displays this instance renders.", "gauge", lambda s: len(s.displays)),
    ("stopcast_pillars_online", "Pillars whose last MQTT status is online.", "gauge", _pillars_online),
    ("stopcast_broker_connected", "1 while connected to the MQTT broker.", "gauge", lambda s: int(s.broker_connected)),
    ("stopcast_broker_reconnects", "Connections to the broker lost.", "counter",
     lambda s: s.link.reconnects if s.link else 0),
    ("stopcast_timetable_loaded", "1 when a timetable is loaded.", "gauge", lambda s: int(s.timetable is not None)),
    ("stopcast_render_worker_restarts", "Times the render workers were started again after one died.", "counter",
     lambda s: getattr(s.renderer, "restarts", 0)),
    ("stopcast_displays_failing", "Displays whose last board failed (they keep their last frame).", "gauge",
     lambda s: sum(1 for r in s.displays.values() if r.error)),
    ("stopcast_pillar_answers_deferred", "Answers to pillar requests the rate limits deferred (docs/mqtt.md).",
     "counter", lambda s: s.bridge.deferred_answers()),
    ("stopcast_instances_live", "Instances of this deployment this one sees live, itself included.", "gauge",
     lambda s: len(s.membership.live())),
)

# Per realtime source (label `source`), read from feeds_doc's entries: (name, help, reading; None: no sample).
FEED_READINGS: tuple[tuple[str, str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("stopcast_feed_age_seconds", "Age of each realtime source's data.", lambda f: f["age_seconds"]),
    ("stopcast_feed_stale", "1 when a source's data is too old to be live.", lambda f: int(f["stale"])),
    ("stopcast_feed_errors", "Consecutive failed fetches of a source.", lambda f: f["consecutive_failures"]),
    # what each source's current data needed put right (feeds/guard.py, feeds/dating.py)
    ("stopcast_feed_frozen", "1 while a source's trip updates or vehicles have not changed for frozen_after.",
     lambda f: int(f["frozen"])),
    ("stopcast_feed_collapsed", "1 while a source's last full dataset is a collapse (below collapse_fraction).",
     lambda f: int(f["collapse"] is not None)),
    ("stopcast_feed_kept_trip_updates", "Trip updates of the last good dataset kept through a collapse.",
     lambda f: f["kept_trip_updates"]),
    ("stopcast_feed_redated_trip_updates", "Trip updates dated by the calendar, attached to the previous service "
     "day's run.", lambda f: f["redated_trip_updates"]),
    ("stopcast_feed_wormhole_trips_dropped", "ADDED trips dropped: their stops imply over max_speed_kmh.",
     lambda f: f["wormhole_trips_dropped"]),
    ("stopcast_feed_early_predictions_ignored", "Trips not yet started predicted over max_early before schedule: "
     "their timetable times show.", lambda f: f["early_predictions_ignored"]),
)


def readings(service: View, now: int, pulls: Pulls | None = None) -> list[Metric]:
    """The metric families read from the service at `now` (READINGS, FEED_READINGS, and the dark pillars,
    which need the HTTP side's `pulls` to know pulling devices)."""
    dark = sum(1 for _, p in presences(service, pulls, now) if p.state == "dark")
    out: list[Metric] = [GaugeMetricFamily("stopcast_pillars_dark", "Displays whose pillar is dark (silent for "
                                           "longer than dark_after).", value=dark)]
    for name, doc, kind, read in READINGS:
        family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
        out.append(family(name, doc, value=read(service)))
    feeds = feeds_doc(service, now)
    for name, doc, read_feed in FEED_READINGS:
        gauge = GaugeMetricFamily(name, doc, labels=["source"])
        for f in feeds:
            if (value := read_feed(f)) is not None:
                gauge.add_metric([f["source"]], value)
        out.append(gauge)
    return out


def metrics_text(service: View, pulls: Pulls | None = None) -> str:
    """Prometheus text exposition (prometheus_client's): the service's counters and histograms, the
    readings above, and the process collector's process_* series."""
    return service.metrics.exposition(readings(service, int(service.clock.now()), pulls)).decode()
