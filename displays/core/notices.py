"""Ops messages and alert suppressions: their one JSON shape and validator, when they are active, and
which displays they reach. Pure: times are passed in, the timetable only answers which stops and
routes a display covers (see docs/http.md, "Messages and suppressions")."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from displays.core.stop_search import stop_hint
from feeds.alerts import Alert
from feeds.times import in_daily_window, iso, zone
from feeds.timetable import Timetable
from layouts.board import ROW, TAKEOVER, TICKER, Notice
from layouts.texts import clean
from layouts.validation import ConfigError

KINDS = (TICKER, ROW, TAKEOVER)
LANGUAGES = ("de", "en")
MAX_TEXT = 500  # characters of one language's text
MAX_TARGETS = 5000  # ids in one target list
MAX_REASON = 500

_log = logging.getLogger("stopcast.editorial")


@dataclass(frozen=True, slots=True)
class Targets:
    """Where a message or suppression applies: displays, stops or stations, routes (all their stops), or all."""

    displays: tuple[str, ...] = ()
    stops: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    all: bool = False


@dataclass(frozen=True, slots=True)
class Period:
    """When something applies: [starts, ends) in Unix seconds (ends None: until ended), optionally only
    daily between two local times (minutes after midnight; a window may run past midnight)."""

    starts: int
    ends: int | None = None
    daily: tuple[int, int] | None = None

    def active(self, now: int, tz: str) -> bool:
        """Whether the period covers `now`."""
        if now < self.starts or (self.ends is not None and now >= self.ends):
            return False
        if self.daily is None:
            return True
        local = dt.datetime.fromtimestamp(now, zone(tz))
        minute = local.hour * 60 + local.minute
        return in_daily_window(minute, *self.daily)

    def next_change(self, now: int, tz: str) -> int:
        """The next second after `now` at which `active` may change (0: never)."""
        candidates = [t for t in (self.starts, self.ends) if t is not None and t > now]
        if self.daily is not None and (self.ends is None or self.ends > now):
            today = dt.datetime.fromtimestamp(now, zone(tz)).date()
            for day in (today, today + dt.timedelta(days=1)):
                for minute in self.daily:
                    local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), zone(tz))
                    if int(local.timestamp()) > now:
                        candidates.append(int(local.timestamp()))
        return min(candidates, default=0)

    def state(self, now: int, tz: str) -> str:
        """"scheduled" (not yet begun), "active", "paused" (outside its daily window) or "ended"."""
        if self.ends is not None and now >= self.ends:
            return "ended"
        if now < self.starts:
            return "scheduled"
        return "active" if self.active(now, tz) else "paused"


@dataclass(frozen=True, slots=True)
class Message:
    """An ops message: a text per language, shown as a ticker, a row or a takeover of the whole screen."""

    message_id: str
    text: tuple[tuple[str, str], ...]  # (language, text), at least one
    kind: str
    priority: int  # 0-9, 9 most urgent
    period: Period
    targets: Targets

    def text_for(self, language: str) -> str:
        """The text in `language`, else the German one, else the first given."""
        texts = dict(self.text)
        return texts.get(language) or texts.get("de") or self.text[0][1]


@dataclass(frozen=True, slots=True)
class Suppression:
    """A rule that keeps feed alerts (by id, by route, or all) off its targets for its period."""

    suppression_id: str
    targets: Targets
    alert_ids: tuple[str, ...]
    alert_routes: tuple[str, ...]
    all_alerts: bool
    period: Period
    reason: str


@dataclass(frozen=True, slots=True)
class Editorial:
    """Every message and suppression the service holds (ended ones too, until they are deleted)."""

    messages: tuple[Message, ...] = ()
    suppressions: tuple[Suppression, ...] = ()

    def current(self, now: int) -> Editorial:
        """Without what has ended by `now` (what boards need to look at)."""
        return Editorial(tuple(m for m in self.messages if m.period.ends is None or m.period.ends > now),
                         tuple(s for s in self.suppressions if s.period.ends is None or s.period.ends > now))


@dataclass(frozen=True, slots=True)
class Scope:
    """What a display covers, for targeting: its id, its stops with their stations and platforms, and the
    routes (ids and short names) that call there."""

    display_id: str
    stop_ids: frozenset[str]
    routes: frozenset[str]


# --- the one validator ---------------------------------------------------------------------------


def _fail(message: str, field: str) -> ConfigError:
    return ConfigError("request body", message, None, field)


def _instant(value: Any, field: str, tz: str) -> int:
    """Unix seconds from ISO 8601; a time without an offset is the agency's local time."""
    if not isinstance(value, str) or not value.strip():
        raise _fail("must be an ISO 8601 date and time, e.g. 2026-11-26T08:00:00+01:00", field)
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _fail(
            f"'{value[:40]}' is not an ISO 8601 date and time (e.g. 2026-11-26T08:00:00+01:00)", field
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tz))
    return int(parsed.timestamp())


def _hhmm(value: Any, field: str) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit():
        raise _fail(f"must be a local time HH:MM, got {str(value)[:20]!r}", field)
    hours, minutes = int(value[:2]), int(value[3:])
    if hours > 23 or minutes > 59:
        raise _fail(f"'{value}' is not a time of day (00:00 to 23:59)", field)
    return hours * 60 + minutes


def _ids(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail("must be a list of non-empty strings", field)
    if len(value) > MAX_TARGETS:
        raise _fail(f"at most {MAX_TARGETS} entries", field)
    return tuple(dict.fromkeys(v.strip() for v in value))


def _object(value: Any, field: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("must be a JSON object", field)
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _fail(f"unknown field '{unknown[0]}' (allowed: {', '.join(allowed)})", f"{field}.{unknown[0]}")
    return value


def _targets(value: Any) -> Targets:
    doc = _object(value, "targets", ("displays", "stops", "routes", "all"))
    everything = doc.get("all", False)
    if not isinstance(everything, bool):
        raise _fail("must be true or false", "targets.all")
    targets = Targets(_ids(doc.get("displays"), "targets.displays"), _ids(doc.get("stops"), "targets.stops"),
                      _ids(doc.get("routes"), "targets.routes"), everything)
    if not (targets.all or targets.displays or targets.stops or targets.routes):
        raise _fail('name at least one display, stop or route, or set "all": true', "targets")
    return targets


def _period(doc: dict[str, Any], tz: str, now: int, daily_allowed: bool) -> Period:
    starts = _instant(doc["starts"], "starts", tz) if doc.get("starts") is not None else now
    ends = _instant(doc["ends"], "ends", tz) if doc.get("ends") is not None else None
    if ends is not None and ends <= starts:
        raise _fail("must be after starts", "ends")
    daily = None
    if daily_allowed and doc.get("daily") is not None:
        window = _object(doc["daily"], "daily", ("from", "to"))
        if "from" not in window or "to" not in window:
            raise _fail('needs both "from" and "to" (HH:MM)', "daily")
        daily = (_hhmm(window["from"], "daily.from"), _hhmm(window["to"], "daily.to"))
        if daily[0] == daily[1]:
            raise _fail("from and to are the same time: the window would be empty", "daily")
    return Period(starts, ends, daily)


MESSAGE_FIELDS = ("id", "text", "kind", "priority", "starts", "ends", "daily", "targets", "state")
SUPPRESSION_FIELDS = ("id", "targets", "alerts", "starts", "ends", "reason", "state")


def parse_message(body: Any, message_id: str, tz: str, now: int) -> Message:
    """A message from its JSON (docs/http.md); ConfigError naming the field. `starts` defaults to `now`,
    `ends` to never; a time without an offset is the agency's local time (`tz`)."""
    doc = _object(body, "body", MESSAGE_FIELDS)
    text = _object(doc.get("text"), "text", LANGUAGES)
    texts = []
    for lang in LANGUAGES:
        value = text.get(lang)
        if value is None:
            continue
        if not isinstance(value, str) or not clean(value):
            raise _fail("must be a non-empty string", f"text.{lang}")
        if len(value) > MAX_TEXT:
            raise _fail(f"at most {MAX_TEXT} characters, got {len(value)}", f"text.{lang}")
        texts.append((lang, clean(value, MAX_TEXT)))
    if not texts:
        raise _fail(f"needs the text in at least one language ({', '.join(LANGUAGES)})", "text")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise _fail(f"must be one of {', '.join(KINDS)}, got {str(kind)[:20]!r}", "kind")
    priority = doc.get("priority", 5)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 9:
        raise _fail(f"must be a whole number from 0 to 9 (9 most urgent), got {str(priority)[:20]!r}", "priority")
    if "targets" not in doc:
        raise _fail("is required", "targets")
    return Message(message_id, tuple(texts), kind, priority, _period(doc, tz, now, True), _targets(doc["targets"]))


def parse_suppression(body: Any, suppression_id: str, tz: str, now: int) -> Suppression:
    """A suppression from its JSON (docs/http.md); ConfigError naming the field."""
    doc = _object(body, "body", SUPPRESSION_FIELDS)
    if "targets" not in doc:
        raise _fail("is required", "targets")
    targets = _targets(doc["targets"])
    alerts = _object(doc.get("alerts"), "alerts", ("ids", "routes", "all"))
    everything = alerts.get("all", False)
    if not isinstance(everything, bool):
        raise _fail("must be true or false", "alerts.all")
    ids, routes = _ids(alerts.get("ids"), "alerts.ids"), _ids(alerts.get("routes"), "alerts.routes")
    if not (everything or ids or routes):
        raise _fail('name alert ids or routes, or set "all": true', "alerts")
    reason = doc.get("reason")
    if not isinstance(reason, str) or not clean(reason):
        raise _fail("say why (ops read it on the dashboard)", "reason")
    if len(reason) > MAX_REASON:
        raise _fail(f"at most {MAX_REASON} characters", "reason")
    return Suppression(
        suppression_id, targets, ids, routes, everything, _period(doc, tz, now, False), clean(reason, MAX_REASON)
    )


def _targets_doc(targets: Targets) -> dict[str, Any]:
    return {"displays": list(targets.displays), "stops": list(targets.stops), "routes": list(targets.routes),
            "all": targets.all}


def _period_doc(period: Period, tz: str) -> dict[str, Any]:
    return {"starts": iso(period.starts, tz), "ends": iso(period.ends, tz) if period.ends is not None else None}


def message_doc(message: Message, tz: str, now: int | None = None) -> dict[str, Any]:
    """The message's JSON (what the API answers and the store keeps); with its state when `now` is given."""
    doc: dict[str, Any] = {"id": message.message_id, "text": dict(message.text), "kind": message.kind,
                           "priority": message.priority, **_period_doc(message.period, tz),
                           "targets": _targets_doc(message.targets)}
    if message.period.daily is not None:
        start, end = message.period.daily
        doc["daily"] = {"from": f"{start // 60:02d}:{start % 60:02d}", "to": f"{end // 60:02d}:{end % 60:02d}"}
    if now is not None:
        doc["state"] = message.period.state(now, tz)
    return doc


def suppression_doc(rule: Suppression, tz: str, now: int | None = None) -> dict[str, Any]:
    """The suppression's JSON; with its state when `now` is given."""
    doc: dict[str, Any] = {"id": rule.suppression_id, "targets": _targets_doc(rule.targets),
                           "alerts": {"ids": list(rule.alert_ids), "routes": list(rule.alert_routes),
                                      "all": rule.all_alerts},
                           **_period_doc(rule.period, tz), "reason": rule.reason}
    if now is not None:
        doc["state"] = rule.period.state(now, tz)
    return doc


def unknown_targets(targets: Targets, display_ids: Iterable[str], tt: Timetable | None) -> ConfigError | None:
    """The first target that names no configured display, no stop or no route of the loaded timetable."""
    configured = set(display_ids)
    for display in targets.displays:
        if display not in configured:
            return _fail(f"no display '{display[:64]}'", "targets.displays")
    if tt is None:
        return None
    for stop in targets.stops:
        if stop not in tt.stop_index:
            return _fail(f"unknown stop id '{stop[:64]}' (not in the loaded GTFS feed){stop_hint(tt, stop[:64])}",
                         "targets.stops")
    known = set(tt.route_index) | {r.short_name for r in tt.routes if r.short_name}
    for route in targets.routes:
        if route not in known:
            return _fail(
                f"unknown route '{route[:64]}' (neither a route_id nor a short name of the feed)", "targets.routes"
            )
    return None


# --- reach ----------------------------------------------------------------------------------------


def scope_of(display_id: str, stop_ids: tuple[str, ...], tt: Timetable | None) -> Scope:
    """A display's scope: its stops, each with its station and the station's platforms, and every route
    that calls at one of its platforms in the timetable."""
    if tt is None:
        return Scope(display_id, frozenset(stop_ids), frozenset())
    covered: set[str] = set(stop_ids)
    platforms: set[int] = set()
    for stop_id in stop_ids:
        index = tt.stop_index.get(stop_id)
        if index is None:
            continue
        parent = tt.stops[index].parent
        if parent >= 0:
            covered.add(tt.stops[parent].stop_id)
        platforms.update(tt.platforms(stop_id))
    covered.update(tt.stops[i].stop_id for i in platforms)
    route_indexes: set[int] = set()
    for i in platforms:
        rows = tt.ix_row[int(tt.ix_offsets[i]) : int(tt.ix_offsets[i + 1])]
        if len(rows):
            route_indexes.update(int(r) for r in set(tt.trip_route[tt.st_trip[rows]].tolist()))
    names = {tt.routes[r].short_name for r in route_indexes if tt.routes[r].short_name}
    routes = {tt.routes[r].route_id for r in route_indexes} | names
    return Scope(display_id, frozenset(covered), frozenset(routes))


def reaches(targets: Targets, scope: Scope) -> bool:
    """Whether targets include a display: by its id, one of its stops or stations, or a route calling there."""
    return (targets.all or scope.display_id in targets.displays
            or not scope.stop_ids.isdisjoint(targets.stops) or not scope.routes.isdisjoint(targets.routes))


def notices_for(editorial: Editorial, scope: Scope, now: int, tz: str, language: str) -> tuple[Notice, ...]:
    """The messages active for a display at `now`, in its language."""
    return tuple(Notice(m.message_id, m.kind, m.text_for(language), m.priority) for m in editorial.messages
                 if m.period.active(now, tz) and reaches(m.targets, scope))


def next_editorial_change(editorial: Editorial, scope: Scope, now: int, tz: str) -> int:
    """When a message or suppression reaching the display next starts or ends (0: never)."""
    periods = [m.period for m in editorial.messages if reaches(m.targets, scope)]
    periods += [s.period for s in editorial.suppressions if reaches(s.targets, scope)]
    return min((c for c in (p.next_change(now, tz) for p in periods) if c), default=0)


def kept_alerts(alerts: tuple[Alert, ...], editorial: Editorial, scope: Scope, now: int, tz: str,
                short_names: Mapping[str, str]) -> tuple[Alert, ...]:
    """The feed alerts a display may show: those no active suppression reaching it names (by alert id, by a
    route the alert is about, given as route_id or short name, or all)."""
    rules = [s for s in editorial.suppressions if s.period.active(now, tz) and reaches(s.targets, scope)]
    if not rules or not alerts:
        return alerts
    kept = []
    for alert in alerts:
        routes = {sel.route_id for sel in alert.selectors if sel.route_id is not None}
        routes |= {short_names[r] for r in routes if r in short_names}
        if not any(rule.all_alerts or alert.alert_id in rule.alert_ids or not routes.isdisjoint(rule.alert_routes)
                   for rule in rules):
            kept.append(alert)
    return tuple(kept)


def editorial_of(docs: list[tuple[str, dict[str, Any]]], tz: str, now: int) -> Editorial:
    """Messages and suppressions from their stored (kind, document) pairs; a document that no longer
    validates is logged and left out, never fatal."""
    messages, rules = [], []
    for kind, doc in docs:
        try:
            if kind == "message":
                messages.append(parse_message(doc, str(doc.get("id", "")), tz, now))
            elif kind == "suppression":
                rules.append(parse_suppression(doc, str(doc.get("id", "")), tz, now))
        except ConfigError as exc:
            _log.error("stored %s %s is not valid any more and is left out: %s", kind, doc.get("id"), exc)
    return Editorial(tuple(messages), tuple(rules))
