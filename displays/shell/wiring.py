"""The production edges of the service, built from its config in one place: realtime sources
(FeedPoller over HTTP or files), the pillar link (MQTT), the GTFS fetch, the ownership epoch kept in the
state folder, and the state adapters (SQLite store or the shared PostgreSQL state, the audit log)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import aiohttp

from displays.config.model import ServiceConfig
from displays.core.ports import FeedSource
from displays.shell.audit import Audit
from displays.shell.clock import Clock, StartedClock, SystemClock
from displays.shell.gtfs_fetch import fetch_gtfs
from displays.shell.shared_state import SNAPSHOT_FILE, SharedStore, Sharing
from displays.shell.state import StateError, next_epoch
from displays.shell.store import STORE_FILE, SqliteStore, StateStore, StoreError
from feeds.poller import FeedPoller
from firmware_bridge import client as mqtt
from firmware_bridge.link import MqttLink
from firmware_bridge.protocol import Bridge, Publish

log = logging.getLogger("stopcast.service")


class LinkOwner(Protocol):
    """What the MQTT link is built from: the service node (displays/shell/service.py)."""

    broker_address: tuple[str, int] | None
    random: random.Random

    @property
    def config(self) -> ServiceConfig: ...

    @property
    def instance(self) -> str: ...

    @property
    def shard(self) -> tuple[int, int]: ...

    def announcement(self, online: bool = True) -> Publish: ...

    def will(self) -> Publish: ...

    @property
    def bridge(self) -> Bridge: ...


@dataclass(frozen=True, slots=True)
class StateAdapters:
    """Where a service keeps ops messages, suppressions, the audit log and (with [state] url) the shared config."""

    sharing: Sharing | None
    audit: Audit
    store: StateStore
    store_error: str | None = None


def state_adapters(config: ServiceConfig, config_path: Path | None) -> StateAdapters:
    """The shared state (with [state] url and a config file), else the SQLite store in the state folder (in
    memory without a config file); the audit log in the state folder unless it is shared."""
    in_folder = config_path is not None
    sharing = Sharing(config.state_dir() / SNAPSHOT_FILE) if config.state.url and in_folder else None
    audit = Audit(config.state_dir() / "audit.jsonl" if in_folder and sharing is None else None)
    if sharing is not None and config_path is not None:
        from displays.config.parse import read_config_text

        sharing.text = read_config_text(config_path)
        audit.sink = sharing.record
        return StateAdapters(sharing, audit, SharedStore())
    store, error = open_store(config, in_folder)
    return StateAdapters(None, audit, store, error)


def open_store(config: ServiceConfig, in_state_folder: bool) -> tuple[StateStore, str | None]:
    """The SQLite state store in the state folder (in memory for a service without a config file, or,
    logged and reported by /healthz, when the state folder cannot hold it), and why it is degraded."""
    try:
        return SqliteStore.in_folder(config.state_dir() if in_state_folder else None), None
    except StoreError as exc:
        error = str(exc)
    path = config.state_dir() / STORE_FILE
    if path.exists():  # a read-only state folder: its messages still show; changes are refused (503)
        try:
            store = SqliteStore.read_only(path, f"cannot be opened for writing ({error})")
            error = (f"{error}: its messages and suppressions were read and show, but "
                     "changes are refused (503) until the state folder is writable")
            log.error("%s", error)
            return store, error
        except StoreError as exc:
            error = str(exc)
    log.error("%s; messages and suppressions are kept in memory only until this is fixed", error)
    return SqliteStore(":memory:"), f"{error} (ops messages and suppressions are not kept across a restart)"


def clock_at(at: int | None = None) -> Clock:
    """The service's clock: the system's, or one started at `at` (--at: a past or future instant that then runs on)."""
    return StartedClock(at) if at is not None else SystemClock()


def start_epoch(config: ServiceConfig, config_path: Path | None, now: int) -> int:
    """The ownership epoch of a starting service, kept in its state folder (the start time without one)."""
    try:
        return next_epoch(config.state_dir() if config_path is not None else None, now)
    except StateError as exc:
        log.warning("%s; frames carry the start time as their epoch", exc)
        return now


async def fetch_timetable(config: ServiceConfig, session: aiohttp.ClientSession, downloads: Path) -> Path:
    """The GTFS feed as a local file (a URL is fetched into `downloads`, If-None-Match)."""
    return await fetch_gtfs(config.resolve(config.feeds.gtfs), session, downloads)


def realtime_sources(config: ServiceConfig, session: aiohttp.ClientSession, clock: Clock,
                     random: Callable[[], float], on_update: Callable[[], None],
                     scheduled: Callable[[int], int | None] | None = None) -> dict[str, FeedSource]:
    """A FeedPoller for each configured realtime source (paths relative to the config file); `scheduled` counts
    the trips the timetable runs around an instant (a full dataset that shrinks with it is no collapse)."""
    return {
        s.url: FeedPoller(replace(s, url=config.resolve(s.url)), session, clock.now, random,
                          on_update=lambda _snapshot: on_update(), scheduled=scheduled,
                          collapse_fraction=config.feeds.collapse_fraction)
        for s in config.feeds.realtime
    }


MAX_INCOMING = 16 * 1024  # bytes: the largest packet the service reads. It subscribes only to pillars' statuses and
# acks and to the instances' announcements, each refused above MAX_PILLAR_MESSAGE (2 KB) anyway. What pillars write
# is subscribed at QoS 0 (a lost ack or status is repaired by the contract's resends, as with NATS): the broker
# drops an oversized one without keeping it in flight (client.BrokerSettings.max_incoming)


def broker_settings(service: LinkOwner) -> mqtt.BrokerSettings:
    """Broker settings from the config (or the embedded broker's address)."""
    m = service.config.mqtt
    host, port = service.broker_address or (m.host, m.port)
    return mqtt.BrokerSettings(
        host=host, port=port, username=m.username, password=m.password,
        client_id=f"{m.client_id or 'stopcast'}-{service.instance}",  # instances on one config must not share it
        tls=m.tls, ca_file=m.ca_file, cert_file=m.cert_file, key_file=m.key_file, keepalive=m.keepalive,
        version=m.version, failover=() if service.broker_address else m.addresses[1:], qos=m.qos,
        max_incoming=MAX_INCOMING,
    )


def mqtt_link(service: LinkOwner) -> MqttLink:
    """The service's link to its broker, with its offline status as the Last Will."""
    presence = (service.announcement, service.announcement(online=False))
    return MqttLink(broker_settings(service), service.will(), service.random.random,
                    presence=presence if service.shard[1] == 1 else None, heartbeat=service.config.service.heartbeat,
                    at_most_once=tuple(service.bridge.subscriptions()))  # pillars' status and ack: see MAX_INCOMING
