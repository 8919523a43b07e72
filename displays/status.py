"""What ops see: the dashboard's data, /healthz and /metrics, from one reading of the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feeds.times import iso, local_date
from feeds.timetable import Timetable
from firmware_bridge.protocol import PillarView
from layouts.spec import builtin_names

from .notices import message_doc, suppression_doc
from .pulls import Pulls
from .service import DisplayRuntime, Service

PULL_FRESH = 300  # seconds: a display fetched over HTTP this recently counts as reachable


def _when(service: Service, instant: int | None) -> str | None:
    tz = service.timetable.timezone if service.timetable else "UTC"
    return iso(instant, tz) if instant else None


def feeds_doc(service: Service, now: int) -> list[dict[str, Any]]:
    """Each realtime source's health; stale and failing ones say so."""
    out = []
    for source in service.sources.values():
        h = source.health
        stale_after = source.source.stale_after
        out.append({
            "source": h.source,
            "age_seconds": h.age(now),
            "stale": h.is_stale(now, stale_after),
            "failing": h.consecutive_failures > 0,
            "from_future": h.from_future(now),
            "last_success": _when(service, h.last_success),
            "header_timestamp": _when(service, h.header_timestamp),
            "trip_updates": h.trip_updates,
            "vehicles": h.vehicles,
            "alerts": h.alerts,
            "last_error": h.last_error,
            "consecutive_failures": h.consecutive_failures,
        })
    return out


def _ago(instant: int | None, now: int) -> str:
    """'just now', '3 min ago', '2 h ago', '4 days ago' ('never' for None)."""
    if instant is None:
        return "never"
    seconds = now - instant
    if seconds < 60:
        return "just now" if seconds >= 0 else "in the future"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _stop_names(service: Service, stop_ids: tuple[str, ...]) -> list[str]:
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

    state: str  # online (MQTT), pulling (HTTP device), offline (said so), never seen, dark
    mqtt_online: bool
    pulling: bool
    last_seen: int | None
    reason: str = ""  # why it is dark


def _presence(service: Service, runtime: DisplayRuntime, pillar: PillarView | None, last_pull: int | None,
              now: int) -> Presence:
    """A pillar is online by its own MQTT status (with a Last Will), or pulling when it fetched its
    frame as an identified device within dark_after; browsers and anonymous pulls never count. Silent
    for longer than dark_after (since it was last seen, or since the service started), it is dark."""
    dark_after = runtime.config.dark_after
    mqtt_online = bool(pillar and pillar.online)
    pulling = last_pull is not None and now - last_pull <= dark_after
    seen = [t for t in (pillar.last_seen if pillar else None, last_pull) if t is not None]
    last_seen = max(seen) if seen else None
    if mqtt_online:
        return Presence("online", True, pulling, last_seen)
    if pulling:
        return Presence("pulling", False, True, last_seen)
    quiet_since = last_seen if last_seen is not None else service.started_at
    if now - quiet_since <= dark_after:
        return Presence("offline" if last_seen is not None else "never seen", False, False, last_seen)
    said = "said offline, and nothing" if pillar and pillar.last_seen else "no MQTT status and no device pull"
    since = f"since {_when(service, last_seen)}" if last_seen else "since the service started"
    return Presence("dark", False, False, last_seen, f"{said} {since} (dark after {dark_after} s)")


def display_status(service: Service, display_id: str, runtime: DisplayRuntime, pulls: Pulls | None, now: int) -> dict[str, Any]:
    """One display as the dashboard shows it."""
    pillar = service.bridge.pillar(display_id)
    pull = pulls.get(display_id) if pulls is not None else None
    board = runtime.board
    last_pull = pull.last_pull if pull else None
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
        "alerts": list(board.alert_pages) if board else [],
        "cancellations": [f"{r.time_text} {r.line} {r.destination}: {r.status_text}" for r in board.rows
                          if r.status in ("cancelled", "skipped")] if board else [],
        "history": pulls.history.segments(display_id, now) if pulls is not None else [],
        "layout": runtime.spec.name,
        "size": f"{runtime.spec.width}x{runtime.spec.height}",
        "color_mode": runtime.spec.color_mode,
        "online": mqtt_online or pulling,
        "state": state,
        "via": "mqtt" if mqtt_online else ("http" if pulling else None),
        "last_pull": _when(service, last_pull),
        "last_seen": _when(service, presence.last_seen),
        "dark_reason": presence.reason,
        "pull_device": pull.device_name if pull else "",
        "pillar": dict(pillar.status) if pillar else {},
        "device": dict(pull.device) if pull else {},
        "in_sync": bool(pillar and pillar.in_sync),
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


def dashboard_doc(service: Service, pulls: Pulls | None = None) -> dict[str, Any]:
    """Everything the dashboard shows (`pulls`: the HTTP side's state, for pulling devices)."""
    now = int(service.clock.now())
    displays = [display_status(service, d, r, pulls, now) for d, r in sorted(service.displays.items())]
    feeds = feeds_doc(service, now)
    dark = [(d["id"], d["dark_reason"]) for d in displays if d["state"] == "dark"]
    timetable = service.timetable
    return {
        "now": _when(service, now),
        "now_ts": now,
        "layouts": builtin_names() + [name for name, _ in service.config.layouts],
        "broker": {"connected": service.broker_connected, "url": service.config.mqtt.url, "error": service.broker_error},
        "timetable": {
            "loaded": timetable is not None,
            "source": service.config.feeds.gtfs,
            "stops": len(timetable.stops) if timetable else 0,
            "trips": len(timetable.trip_ids) if timetable else 0,
            "loaded_at": _when(service, service.timetable_loaded_at),
            "error": service.timetable_error,
        },
        "feeds": feeds,
        "displays": displays,
        "online": sum(d["online"] for d in displays),
        "shard": f"{service.shard[0]}/{service.shard[1]}",
        "reload_error": service.last_reload_error,
        "problems": _problems(service, feeds, dark, now),
        "audit": [{"at": _when(service, e.at), "who": e.who, "action": e.action, "target": e.target, "detail": e.detail}
                  for e in service.audit.recent(10)],
        "messages": [message_doc(m, service.timezone(), now) for m in service.editorial.messages],
        "suppressions": [suppression_doc(s, service.timezone(), now) for s in service.editorial.suppressions],
    }


EXPIRY_WARNING_DAYS = 7


def timetable_problems(tt: Timetable, now: int) -> list[str]:
    """What is wrong with the timetable's validity at `now`: expired, not yet valid, or ending soon."""
    period = tt.calendar.period()
    if period is None:
        return ["timetable has no service days at all (calendar.txt / calendar_dates.txt)"]
    first, last = period
    today = local_date(now, tt.timezone)
    if today > last:
        return [f"timetable expired: its last service day was {last.isoformat()}; boards say 'timetable expired'"]
    if today < first:
        return [f"timetable not valid yet: its first service day is {first.isoformat()}"]
    left = (last - today).days
    if left < EXPIRY_WARNING_DAYS:
        return [f"timetable ends in {left} day{'' if left == 1 else 's'} (last service day {last.isoformat()}): "
                "publish the next one"]
    return []


def health_doc(service: Service, pulls: Pulls | None = None) -> dict[str, Any]:
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


def presences(service: Service, pulls: Pulls | None, now: int) -> list[tuple[str, Presence]]:
    """Every display's presence at `now` (recorded in the presence history when `pulls` is given)."""
    out = []
    for display_id, runtime in sorted(service.displays.items()):
        pull = pulls.get(display_id) if pulls is not None else None
        presence = _presence(service, runtime, service.bridge.pillar(display_id), pull.last_pull if pull else None, now)
        if pulls is not None:
            pulls.history.record(display_id, now, presence.state)
        out.append((display_id, presence))
    return out


def _problems(service: Service, feeds: list[dict[str, Any]], dark: list[tuple[str, str]], now: int) -> list[str]:
    """Everything ops should fix, in the order /healthz and the dashboard list it."""
    problems = []
    if service.timetable is None:
        problems.append("no timetable loaded")
    else:
        problems += timetable_problems(service.timetable, now)
    if not service.broker_connected:
        problems.append("not connected to the MQTT broker")
    if service.sharing is not None and service.sharing.error:
        problems.append(f"{service.sharing.error} (admin changes wait; the running config stays)")
    speaking = [d.id for d in service.config.displays if d.speech.languages]
    if speaking and service.speaker.synthesizer.available:
        problems.append(f"{service.speaker.synthesizer.available} for {len(speaking)} display(s) with speech "
                        f"({', '.join(speaking[:5])}{', ...' if len(speaking) > 5 else ''}); frames are not affected")
    elif service.speaker.error:
        problems.append(f"speech: {service.speaker.error} (frames are not affected)")
    if service.store_error:
        problems.append(f"{service.store_error} (ops messages and suppressions are not kept across a restart)")
    for f in feeds:
        if f["from_future"]:
            problems.append(f"realtime {f['source']}: header timestamp {f['header_timestamp']} is "
                            "more than 5 minutes ahead of now (producer's clock wrong?); not shown as live")
        elif f["stale"]:
            problems.append(f"realtime {f['source']} is stale")
        if f["failing"]:
            problems.append(f"realtime {f['source']} is failing ({f['consecutive_failures']} attempts): {f['last_error']}")
    problems += [f"display {d}: {r.error}" for d, r in sorted(service.displays.items()) if r.error]
    problems += [f"display {d}: pillar dark: {reason}" for d, reason in dark]
    if service.last_reload_error:
        problems.append(f"config reload failed, the running config stays: {service.last_reload_error}")
    problems += service.membership.problems()  # another deployment on our broker and prefix, a forged instance
    membership, peers = service.membership, service.config.service.peers
    problems += [f"instance {m.name} announces {m.http[:100]} but neither proves the deployment's shared secret "
                 "([service] secret_env) nor is listed in [service] peers: requests for its displays are not passed to it"
                 for m in sorted(membership.members.values(), key=lambda m: m.name)
                 if membership.alive(m) and m.http and not m.proven and m.http.rstrip("/") not in peers]
    return problems


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(service: Service) -> str:
    """Prometheus text exposition, every name prefixed stopcast_."""
    now = int(service.clock.now())
    m = service.metrics
    feeds = feeds_doc(service, now)
    lines = [
        "# HELP stopcast_displays Displays this instance renders.", "# TYPE stopcast_displays gauge",
        f"stopcast_displays {len(service.displays)}",
        "# HELP stopcast_pillars_online Pillars whose last MQTT status is online.", "# TYPE stopcast_pillars_online gauge",
        f"stopcast_pillars_online {sum(1 for d in service.displays if (p := service.bridge.pillar(d)) and p.online)}",
        "# HELP stopcast_broker_connected 1 while connected to the MQTT broker.", "# TYPE stopcast_broker_connected gauge",
        f"stopcast_broker_connected {int(service.broker_connected)}",
        "# HELP stopcast_broker_reconnects_total Connections to the broker lost.", "# TYPE stopcast_broker_reconnects_total counter",
        f"stopcast_broker_reconnects_total {service.link.reconnects if service.link else 0}",
        "# HELP stopcast_timetable_loaded 1 when a timetable is loaded.", "# TYPE stopcast_timetable_loaded gauge",
        f"stopcast_timetable_loaded {int(service.timetable is not None)}",
        "# HELP stopcast_render_seconds Board build + render + encode time.", "# TYPE stopcast_render_seconds summary",
        f"stopcast_render_seconds_count {m.renders.count}", f"stopcast_render_seconds_sum {m.renders.total:.6f}",
        "# HELP stopcast_publish_seconds Time for a batch of publishes to be acknowledged.", "# TYPE stopcast_publish_seconds summary",
        f"stopcast_publish_seconds_count {m.publishes.count}", f"stopcast_publish_seconds_sum {m.publishes.total:.6f}",
        "# HELP stopcast_published_messages_total MQTT messages acknowledged by the broker.",
        "# TYPE stopcast_published_messages_total counter", f"stopcast_published_messages_total {m.messages_published}",
        "# HELP stopcast_published_bytes_total Payload bytes acknowledged by the broker.",
        "# TYPE stopcast_published_bytes_total counter", f"stopcast_published_bytes_total {m.bytes_published}",
        "# HELP stopcast_pillar_messages_rejected_total Pillar messages that broke the contract.",
        "# TYPE stopcast_pillar_messages_rejected_total counter", f"stopcast_pillar_messages_rejected_total {m.rejected}",
        "# HELP stopcast_http_frames_total Frames served over HTTP.", "# TYPE stopcast_http_frames_total counter",
        f"stopcast_http_frames_total {m.http_frames}",
        "# HELP stopcast_http_not_modified_total 304 answers to pulling pillars.", "# TYPE stopcast_http_not_modified_total counter",
        f"stopcast_http_not_modified_total {m.http_not_modified}",
        "# HELP stopcast_render_worker_restarts_total Times the render workers were started again after one died.",
        "# TYPE stopcast_render_worker_restarts_total counter",
        f"stopcast_render_worker_restarts_total {getattr(service.renderer, 'restarts', 0)}",
        "# HELP stopcast_display_errors_total Boards that could not be composed, rendered or encoded.",
        "# TYPE stopcast_display_errors_total counter", f"stopcast_display_errors_total {m.display_errors}",
        "# HELP stopcast_displays_failing Displays whose last board failed (they keep their last frame).",
        "# TYPE stopcast_displays_failing gauge",
        f"stopcast_displays_failing {sum(1 for r in service.displays.values() if r.error)}",
        "# HELP stopcast_publish_refused_total MQTT messages the client refused to send.",
        "# TYPE stopcast_publish_refused_total counter", f"stopcast_publish_refused_total {m.publish_refused}",
        "# HELP stopcast_feed_age_seconds Age of each realtime source's data.", "# TYPE stopcast_feed_age_seconds gauge",
    ]
    for f in feeds:
        if f["age_seconds"] is not None:
            lines.append(f'stopcast_feed_age_seconds{{source="{_label(f["source"])}"}} {f["age_seconds"]}')
    lines += ["# HELP stopcast_feed_stale 1 when a source's data is too old to be live.", "# TYPE stopcast_feed_stale gauge"]
    lines += [f'stopcast_feed_stale{{source="{_label(f["source"])}"}} {int(f["stale"])}' for f in feeds]
    lines += ["# HELP stopcast_feed_errors Consecutive failed fetches of a source.", "# TYPE stopcast_feed_errors gauge"]
    lines += [f'stopcast_feed_errors{{source="{_label(f["source"])}"}} {f["consecutive_failures"]}' for f in feeds]
    return "\n".join(lines) + "\n"
