"""The service without I/O (as h11's `Connection` beside the application that owns the socket): the display
registry and the pillar bridge. The shell (displays/shell/service.py) feeds it a config, the timetable, the
realtime snapshots, the ops messages, rendered frames and pillar messages, each with the `now` it read from
its clock, and sends what comes back; `next_wake(now)` says when the boards next change by themselves.

It never reads a clock, a file or a socket: tests drive it alone (tests/displays/test_engine.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from displays.config.instances import frame_key
from displays.config.model import ConfigError, DisplayConfig, ServiceConfig, encoding_of, layout_of
from displays.core.composing import compose_display, rules_of
from displays.core.frames import Rendered, frame_of, ticker_publishes
from displays.core.instances import MAX_EPOCH, Identity, Member, Membership, announcement, display_set
from displays.core.notices import Editorial, Scope, scope_of
from displays.core.sharding import owner
from displays.core.stop_search import stop_hint
from displays.core.touched import Memo, due, touched_stops
from feeds.live import Findings, LiveState, build_live
from feeds.realtime import Snapshot
from feeds.timetable import Timetable
from firmware_bridge.protocol import AudioRequest, Bridge, Event, Frame, Publish
from firmware_bridge.topics import display_topic, instance_topic, service_status_topic
from layouts.board import Board
from layouts.export import board_json
from layouts.spec import LayoutSpec

__all__ = ["Changes", "DisplayRuntime", "Engine", "identity_of"]

log = logging.getLogger("stopcast.service")


@dataclass
class DisplayRuntime:
    """What the service holds for one display between ticks."""

    config: DisplayConfig
    spec: LayoutSpec
    encoding: str
    board: Board | None = None  # the board shown (accepted with its frame)
    composed: Board | None = None  # the board last composed for it (the one shown, unless it was not accepted)
    frame: Frame | None = None
    rendered_at: int | None = None
    ticker_hash: int | None = None  # the text hash of the ticker last published (None: publish it again)
    error: str | None = None  # why composing or rendering its board last failed (None: it worked)
    error_at: int | None = None
    forecast: list[tuple[int, Board]] = field(default_factory=list)  # the boards of the published forecast
    forecast_hashes: dict[int, int] = field(default_factory=dict)  # start -> content hash of its steps
    forecast_seen: list[tuple[int, Board]] = field(default_factory=list)  # the boards predicted last (published or
    # not: a prediction whose frames equal the published ones is not rendered again while it stays the same)
    forecast_inputs: tuple = ()  # the inputs they were predicted from
    forecast_at: int = 0  # when they were predicted


@dataclass(frozen=True, slots=True)
class Changes:
    """What a change of the registry sends, and the displays that left the config (the shell clears what
    it keeps for them outside the engine: their retained spoken texts)."""

    publishes: list[Publish] = field(default_factory=list)
    removed: tuple[str, ...] = ()
    reconfigured: bool = False  # the displays were set again (the shell renders at once)


def identity_of(config: ServiceConfig) -> Identity:
    """What makes an instance's deployment: its name, its display set and its shared secret."""
    return Identity(
        config.service.deployment, display_set(d.id for d in config.displays), config.service.secret.encode()
    )


class Engine:
    """One instance's displays (or one shard's): what they show, what their pillars have, who owns them."""

    def __init__(self, config: ServiceConfig, *, instance: str, started_at: int, epoch: int,
                 shard: tuple[int, int] = (1, 1)) -> None:
        self.config = config
        self.shard = shard
        self.started_at = started_at
        self.membership = Membership(instance, identity_of(config))
        self.bridge = Bridge(config.mqtt.prefix, config.mqtt.max_packet, config.mqtt.frame_ttl, epoch=epoch)
        self.displays: dict[str, DisplayRuntime] = {}
        self.timetable: Timetable | None = None
        self.editorial = Editorial()
        self.stopping = False  # a stopping instance takes nothing over and never says it is online again
        self.displays_were_set = False
        self.failures = 0  # how often a display's board could not be made (the shell counts them in its metrics)
        self._memo = Memo()

    @property
    def instance(self) -> str:
        return self.membership.me

    # --- the registry --------------------------------------------------------------------------

    def owns(self, display_id: str) -> bool:
        """Whether this instance renders and publishes that display: by its static shard (--shard K/N), else
        by rendezvous hashing over the live instances (docs/deploy.md)."""
        if self.shard[1] > 1:
            return owner(display_id, self.shard[1]) == self.shard[0]
        return self.membership.owns(display_id)

    def _runtimes(self, config: ServiceConfig) -> dict[str, DisplayRuntime]:
        """The displays of `config` this instance owns; unchanged ones keep their boards."""
        runtimes: dict[str, DisplayRuntime] = {}
        specs = {r.spec: r.spec for r in self.displays.values()}  # one object per distinct layout (boards are
        # rendered once per layout and board: displays showing the same share it)
        for display in config.displays:
            if not self.owns(display.id):
                continue
            spec = layout_of(config, display)
            spec = specs.setdefault(spec, spec)
            old = self.displays.get(display.id)
            if old is not None and old.config == display and old.spec == spec:
                runtimes[display.id] = old
            else:
                runtimes[display.id] = DisplayRuntime(display, spec, encoding_of(display, spec))
        return runtimes

    def apply_config(self, config: ServiceConfig, now: int, http: str = "") -> Changes:
        """Swap in a validated config; keeps the boards of displays whose settings did not change. `http`: the
        address this instance announces (for the announcement a changed display set sends)."""
        identity_changed = identity_of(config) != self.membership.identity
        if identity_changed:  # another display set: every announcement is judged again before ownership is
            self.membership.set_identity(identity_of(config))
        runtimes = self._runtimes(config)
        configured = [d.id for d in config.displays]
        gone = [d for d in self.displays if d not in runtimes]
        removed = tuple(d for d in gone if d not in configured)  # left the config: its retained messages are cleared
        publishes = [
            p
            for d in removed
            for p in [*self.bridge.remove(d), Publish(display_topic(config.mqtt.prefix, d, "ticker"), b"", True)]
        ]
        for display_id in gone:
            if display_id in configured:
                self.bridge.release(display_id)  # another instance owns it now: its retained frame stays
        acquired = [d for d in runtimes if d not in self.displays]
        if identity_changed and self.displays_were_set:
            publishes.append(self.announcement(now, http))  # the others learn the new display set
        self.config = config
        self.bridge.set_keys({d.id: frame_key(config.mqtt.frame_secret, d.id) for d in config.displays if d.signed})
        self.bridge.expect(configured)  # every pillar's status is read, also of displays other instances own
        self.displays = runtimes
        if acquired and self.displays_were_set:
            publishes += self.raise_epoch(now, http)
        self.displays_were_set = True
        return Changes(publishes, removed, reconfigured=True)

    def check_stops(self, config: ServiceConfig, source: str = "") -> None:
        """ConfigError when a display names a stop the loaded timetable does not have, with the stops named or
        spelled like it (`source`: where the config came from, e.g. "request body"; default its file)."""
        if self.timetable is None:
            return
        for display in config.displays:
            for stop in display.stops:
                if stop not in self.timetable.stop_index:
                    raise ConfigError(source or config.source, f"unknown stop id '{stop}' (not in the loaded GTFS "
                                      f"feed){stop_hint(self.timetable, stop)}", display.id, "stops")

    # --- the instances -------------------------------------------------------------------------

    def raise_epoch(self, now: int, http: str = "") -> list[Publish]:
        """Taking displays over: an epoch above every one seen, so that pillars ignore the old owner's late
        frames; announced at once. It never leaves the header's 32 bits (implausible epochs are never seen:
        displays/core/instances.py)."""
        epoch = min(MAX_EPOCH, max(now, self.membership.highest_epoch + 1, self.bridge.epoch + 1))
        self.bridge.set_epoch(epoch)
        self.membership.highest_epoch = max(self.membership.highest_epoch, epoch)
        return [self.announcement(now, http)]

    def announcement(self, now: int, http: str = "", online: bool = True) -> Publish:
        """This instance's retained announcement, a heartbeat valid for three heartbeats (offline: its Last Will,
        and always once it is stopping: a stopping instance never says it is online again)."""
        identity = self.membership.identity
        member = Member(self.instance, online and not self.stopping, self.bridge.epoch, self.started_at, http, now,
                        self.config.service.ttl, identity.deployment, identity.displays)
        return announcement(self.config.mqtt.prefix, member, identity.secret)

    def on_member(self, member: Member | None, now: int, http: str = "") -> Changes:
        """Another instance came or went: take over or give back displays as the live set says."""
        if member is None or member.name == self.instance or self.stopping:
            return Changes()  # (a stopping instance takes nothing over: its displays' new owners do)
        refused = self.membership.refused.get(member.name)
        changed = self.membership.update(member, now)
        reason = self.membership.refused.get(member.name)
        if reason and reason != refused:  # logged once per reason, not with every heartbeat
            log.warning("instance %s %s", member.name, reason)
        # Epochs are kept distinct (two instances taking over in the same second would pick the same one):
        # the one with the larger name moves on, so that every frame tells which instance made it.
        joined = member.name in self.membership.members and member.online
        clash = (
            self.raise_epoch(now, http)
            if joined and member.epoch == self.bridge.epoch and self.instance > member.name
            else []
        )
        if not changed:
            return Changes(clash)
        log.info("instance %s is %s; live: %s", member.name, "online" if member.online else "offline",
                 ", ".join(self.membership.live()))
        again = self.apply_config(self.config, now, http) if self.shard[1] == 1 else Changes()
        return Changes(clash + again.publishes, again.removed, again.reconfigured)

    def expire(self, now: int, http: str = "") -> Changes:
        """Members whose announcement went stale are gone: their displays are taken over."""
        if self.membership.expire(now) and self.shard[1] == 1:
            log.info("an instance's announcement went stale; live: %s", ", ".join(self.membership.live()))
            return self.apply_config(self.config, now, http)
        return Changes()

    def subscriptions(self) -> list[str]:
        """What the service subscribes to: the pillars' status and ack, the instances, the service status
        (subscribed last: its first message says the instances' retained announcements have arrived)."""
        prefix = self.config.mqtt.prefix
        return [*self.bridge.subscriptions(), instance_topic(prefix, "+"), service_status_topic(prefix)]

    def status_details(self) -> dict:
        """What the service's retained status says about itself."""
        return {"displays": len(self.displays), "shard": f"{self.shard[0]}/{self.shard[1]}", "instance": self.instance}

    # --- composing -----------------------------------------------------------------------------

    def scope(self, display: DisplayConfig) -> Scope:
        """What a display covers for ops messages: its stops, stations, platforms and routes (cached per timetable)."""
        memo = self._memo
        memo.of_timetable(self.timetable)
        key = (display.id, display.stops)
        found = memo.scopes.get(key)
        if found is None:
            found = memo.scopes[key] = scope_of(display.id, display.stops, self.timetable)
        return found

    def inputs(self, snapshots: Sequence[Snapshot | None]) -> tuple:
        """What every board depends on besides the clock: the timetable, the realtime snapshots, the config."""
        return (id(self.timetable), id(self.config), id(self.editorial), *(id(s) for s in snapshots))

    def live_state(self, now: int, snapshots: Sequence[Snapshot | None]) -> LiveState | None:
        """Realtime merged against the timetable at `now` (None without realtime sources)."""
        if self.timetable is None or not snapshots:
            return None
        live = build_live(self.timetable, [s for s in snapshots if s is not None], now, rules_of(self.config.feeds))
        inputs, seen = self._memo.findings
        if inputs != self.inputs(snapshots):
            self._memo.findings = (self.inputs(snapshots), [live.findings])
        else:
            self._memo.findings = (inputs, [seen[0], live.findings])
        return live

    def findings(self, source: str) -> Findings:
        """What the merge put right in one source's data now shown. Predictions are computed as boards read them,
        and only the first merge of new data composes every board: trips not believed count as the most seen."""
        seen = [f[source] for f in self._memo.findings[1] if source in f]
        if not seen:
            return Findings()
        return replace(seen[-1], early=max(f.early for f in seen))

    def compose(self, display: DisplayConfig, spec: LayoutSpec, now: int, live: LiveState | None, editorial: Editorial,
                previous: Board | None = None, shared: dict | None = None,
                reuse: frozenset[str] | None = None) -> Board:
        """One display's board at `now` from the loaded timetable, `live` and the ops messages in `editorial`
        (`reuse`: `previous` was composed from the same realtime but for these trips, see layouts/board.py)."""
        return compose_display(
            self.timetable, display, spec, now, live, editorial, self.scope(display),
            scrolls=self.bridge.scrolls(display.id), realtime_configured=bool(self.config.feeds.realtime),
            previous=previous, shared=shared, reuse=reuse,
        )

    def composed(self, now: int, snapshots: Sequence[Snapshot | None], force: bool = False
                 ) -> Iterator[tuple[DisplayRuntime, Board]]:
        """The boards that changed at `now`. With new realtime only the displays at stops it touches are composed
        again (displays/core/touched.py), with the same inputs as last time only those whose board said it changes
        by now (a countdown dropping a minute at its own second); another timetable, config or editorial: all.
        Rows of departures whose realtime did not change are shifted to now (layouts/board.py), not made again."""
        memo = self._memo
        inputs = self.inputs(snapshots)
        everything, fresh = force or inputs[:3] != memo.last_inputs[:3], inputs != memo.last_inputs
        memo.last_inputs = inputs
        live = self._live(now, snapshots) if fresh or everything else None
        touched = touched_stops(memo.base, live) if fresh and not everything else None
        everything = everything or (fresh and touched is None)
        runtimes = [r for r in self.displays.values() if everything or due(r.board, r.frame, now) or fresh and (
            r.error is not None or touched and memo.touches(r.config.stops, self.timetable, touched.stops))]
        if runtimes and not (fresh or everything):
            live = self._live(now, snapshots)
            touched = touched_stops(memo.base, live)
        if fresh or everything or len(runtimes) == len(self.displays):
            memo.base = live  # every board now is what this live state gives (the base the next update is told from)
        editorial = self.editorial.current(now)
        shared: dict = {}  # departures by stops: displays at the same stops share one query
        for runtime in runtimes:
            # its board is what the realtime gives at its time, but for the trips changed since: their rows are made
            settled = runtime.board is runtime.composed and runtime.error is None and not everything
            try:
                board = self.compose(runtime.config, runtime.spec, now, live, editorial, runtime.board, shared,
                                     touched.trips if settled and touched is not None else None)
            except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
                self.display_failed(runtime, "composing its board", exc, now)
                continue
            runtime.composed = board
            if force or board != runtime.board or runtime.frame is None:
                yield runtime, board
            else:
                runtime.board = board  # the same texts: only its next change moves on (else it stays due)
                self.bridge.extend_to(runtime.config.id, board.true_until)  # and its frame stays true longer

    def _live(self, now: int, snapshots: Sequence[Snapshot | None]) -> LiveState | None:
        """The live state at `now`, None when the merge failed (boards then show the timetable)."""
        try:
            return self.live_state(now, snapshots)
        except Exception as exc:  # noqa: BLE001 - a feed the merge cannot take must not stop the boards
            log.exception("merging realtime failed; boards show the timetable: %s", exc)
            return None

    def display_failed(self, runtime: DisplayRuntime, stage: str, exc: BaseException | str, now: int) -> None:
        """Record that one display's board could not be made; it keeps its last good frame. Logged once per
        distinct error (with the traceback the first time), counted, shown to ops."""
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        message = f"{stage} failed: {reason}"
        self.failures += 1
        if message != runtime.error:
            log.error("display %s: %s (it keeps its last frame)", runtime.config.id, message,
                      exc_info=exc if isinstance(exc, BaseException) else None)
        runtime.error, runtime.error_at = message, now

    # --- frames and pillars --------------------------------------------------------------------

    def accept(self, runtime: DisplayRuntime, board: Board, rendered: Rendered | str, now: int) -> list[Publish] | None:
        """Take a rendered board: remember it and return the publishes that follow (None: not taken).
        `rendered` is the error's text when rendering failed; the display then keeps its last frame."""
        display = runtime.config
        if self.displays.get(display.id) is not runtime:
            return None  # the display was removed or changed while its board was being rendered
        if isinstance(rendered, str):
            self.display_failed(runtime, "rendering", rendered, now)
            return None
        try:
            frame = frame_of(rendered, b"")  # the board JSON is the channel's, built only when the board changed
            items = rendered.drawn or None
            publishes = self.bridge.board(display.id, (hash(board), runtime.spec),  # (its hash: boards are large)
                                          lambda: board_json(board, runtime.spec, display.id, items))
            publishes += self.bridge.show(display.id, frame, now, runtime.spec.full_refresh_every, board.true_until,
                                          night=board.night_until > 0)
            ticker, runtime.ticker_hash = ticker_publishes(self.config.mqtt.prefix, display.id, board, runtime.spec,
                                                           runtime.ticker_hash)
            room = self.bridge.room(display.id, "ticker")  # a ticker too long for the packet limit is cleared: the
            publishes += [t if len(t.payload) <= room else replace(t, payload=b"") for t in ticker]  # frames page it
        except Exception as exc:  # noqa: BLE001 - one display's failure never stops the others
            self.display_failed(runtime, "encoding its frame", exc, now)
            return None
        runtime.board, runtime.frame, runtime.rendered_at = board, frame, now
        runtime.error = runtime.error_at = None
        return publishes

    def tick(self, now: int) -> list[Publish]:
        """What the pillars are owed at `now` (resends, extensions, empty deltas); a frame that could not be
        extended is recorded on its display."""
        publishes = self.bridge.tick(now)
        for display_id, reason in self.bridge.failures.items():  # an extension that could not be encoded
            if (failed := self.displays.get(display_id)) is not None:
                self.display_failed(failed, "extending its frame", reason, now)
        return publishes

    def receive(self, topic: str, payload: bytes, now: int) -> tuple[list[Event | AudioRequest], list[Publish]]:
        """A pillar's message, through the protocol (never trusted): its events and the replies."""
        return self.bridge.receive(topic, payload, now)

    def hello(self, now: int) -> list[Publish]:
        """What a (re)connected link sends: the service's status and every retained frame (tickers again with
        each display's next board)."""
        for runtime in self.displays.values():
            runtime.ticker_hash = None
        return [self.bridge.service_status(True, now, self.status_details()), *self.bridge.republish_all(now)]

    def goodbye(self, now: int, http: str = "") -> list[Publish]:
        """What a clean stop says: this instance is offline (the others take its displays over at once), and
        the service is offline when no other instance is live."""
        out = [self.announcement(now, http, online=False)] if self.shard[1] == 1 else []
        if self.membership.live() == (self.instance,):
            out.append(self.bridge.service_status(False, now))
        return out

    def next_wake(self, now: int) -> float:
        """When the boards next change by themselves: the next minute, page flip or validity deadline."""
        candidates = [(now // 60 + 1) * 60]
        candidates += [
            r.board.next_change for r in self.displays.values() if r.board is not None and r.board.next_change > now
        ]
        for deadline in (self.bridge.next_deadline(), self.membership.next_expiry()):
            if deadline is not None:
                candidates.append(max(deadline, now + 1))
        return min(candidates)
