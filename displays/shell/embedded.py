"""The in-process MQTT broker (amqtt) for the zero-setup run; production uses Mosquitto or a cluster."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import BrokerConfig, ListenerConfig
from amqtt.errors import BrokerError

log = logging.getLogger("stopcast.broker")


class _Broker(Broker):
    """amqtt 0.12 sends a (re)connecting client the retained messages of every topic filter that *any* client
    subscribed to (its connect path loops over the broker-wide subscriptions): the demo's pillars then received
    each other's frames and boards ("bad magic" on status topics, another display's frame shown). Here a client
    only gets the retained messages of its own subscriptions."""

    async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int], session: Any) -> None:
        subscribers = self._subscriptions.get(subscription[0], [])
        if any(s.client_id == session.client_id for s, _ in subscribers):
            await super()._publish_retained_messages_for_subscription(subscription, session)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def embedded_broker(port: int = 0) -> AsyncIterator[int]:
    """Run an MQTT 3.1.1 broker on 127.0.0.1 (a free port when 0); yields the port."""
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for attempt in range(5):
        chosen = port or _free_port()
        config = BrokerConfig(
            listeners={"default": ListenerConfig(bind=f"127.0.0.1:{chosen}")},
            plugins={"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        )
        broker = _Broker(config)
        try:
            await broker.start()
            break
        except (OSError, BrokerError) as exc:
            # A free port can be taken between choosing and binding it: choose again (unless one was given).
            if port or attempt == 4:
                raise OSError(f"the embedded MQTT broker cannot listen on 127.0.0.1:{chosen}: {exc}") from None
    port = chosen
    log.info("embedded MQTT broker on mqtt://127.0.0.1:%d", port)
    try:
        yield port
    finally:
        await broker.shutdown()
