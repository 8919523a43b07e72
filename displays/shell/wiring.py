"""The production edges of the service, built from its config in one place: realtime sources
(FeedPoller over HTTP or files) and the pillar link (MQTT)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import aiohttp

from displays.config.model import ServiceConfig
from displays.core.ports import FeedSource
from displays.shell.clock import Clock
from feeds.poller import FeedPoller
from firmware_bridge import client as mqtt
from firmware_bridge.link import MqttLink

if TYPE_CHECKING:
    from displays.shell.service import Service


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


def broker_settings(service: Service) -> mqtt.BrokerSettings:
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


def mqtt_link(service: Service) -> MqttLink:
    """The service's link to its broker, with its offline status as the Last Will."""
    presence = (service.announcement, service.announcement(online=False))
    return MqttLink(broker_settings(service), service.will(), service.random.random,
                    presence=presence if service.shard[1] == 1 else None, heartbeat=service.config.service.heartbeat,
                    at_most_once=tuple(service.bridge.subscriptions()))  # pillars' status and ack: see MAX_INCOMING
