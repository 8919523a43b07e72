"""aiomqtt carrying the protocol's messages: connect (TLS, user, Last Will), publish with PUBACKs,
deliver incoming messages, reconnect with backoff. No protocol logic lives here.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import lru_cache

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .protocol import Publish

log = logging.getLogger("stopcast.mqtt")
_paho_log = logging.getLogger("stopcast.mqtt.client")  # aiomqtt's own chatter ("pending publish calls")
_paho_log.setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where and as whom to connect."""

    host: str
    port: int = 1883
    username: str = ""
    password: str = ""
    client_id: str = ""
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    keepalive: int = 30
    version: int = 5  # 5, or 3 (3.1.1) for brokers without MQTT 5 (then no message expiry)
    max_inflight: int = 100
    failover: tuple[tuple[str, int], ...] = ()  # other nodes of the cluster: after a failure the next one is tried
    qos: int = 1  # of every publish and subscription; 0 for NATS (docs/deploy.md): the contract's acks and
    # resends make delivery reliable without the broker's, and NATS serves QoS 1 through JetStream consumers
    max_incoming: int = 0  # the largest packet the broker may send us (MQTT 5 Maximum Packet Size; 0: no limit).
    # A larger one is dropped by the broker, never read into memory (a pillar's 250 MB status); MQTT 3.1.1 has
    # no such property: there Mosquitto's max_packet_size / message_size_limit must bound it (docs/deploy.md).
    # Subscribe to what others may flood at QoS 0 then: Mosquitto 2.0.11 keeps each QoS 1 message it dropped
    # for being too large in flight for good, and after 20 (max_inflight_messages) sends the client nothing more


# each connection's BrokerSettings.qos
_QOS: weakref.WeakKeyDictionary[aiomqtt.Client, int] = weakref.WeakKeyDictionary()
SUBSCRIBE_TIMEOUT = 10.0  # seconds for a SUBACK or UNSUBACK: aiomqtt does not fail a pending subscribe when the
# connection drops (a NATS node closes a client whose session it cannot store), so this is how a pillar notices
CONNECT_TIMEOUT = 10.0  # seconds for a CONNACK (a cluster node electing a new leader may never answer the first try)
DISCONNECT_WAIT = 3.0  # seconds a clean disconnect may take before the connection is dropped


class BridgeError(Exception):
    """The broker could not be reached or refused us; the message says which and why."""


def _properties(msg: Publish, version: int) -> Properties | None:
    if version != 5 or not msg.expiry:
        return None
    return _expiry(int(msg.expiry))


@lru_cache(maxsize=256)
def _expiry(seconds: int) -> Properties:
    """The PUBLISH properties of a message expiry, made once per value (paho packs them on each publish and
    never changes them; building them was 6 % of the service's main process at 10,000 displays)."""
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = seconds
    return props


def _connect_properties(max_incoming: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.MaximumPacketSize = max_incoming
    return props


@asynccontextmanager
async def connect(settings: BrokerSettings, will: Publish | None = None) -> AsyncIterator[aiomqtt.Client]:
    """A connected client; BridgeError (naming the broker) when it cannot connect."""
    tls_params = None
    if settings.tls:
        tls_params = aiomqtt.TLSParameters(
            ca_certs=settings.ca_file or None,
            certfile=settings.cert_file or None,
            keyfile=settings.key_file or None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username or None,
        password=settings.password or None,
        identifier=settings.client_id or None,
        protocol=aiomqtt.ProtocolVersion.V5 if settings.version == 5 else aiomqtt.ProtocolVersion.V311,
        will=aiomqtt.Will(will.topic, will.payload, will.qos, will.retain) if will else None,
        keepalive=settings.keepalive,
        logger=_paho_log,
        tls_params=tls_params,
        max_inflight_messages=settings.max_inflight,
        timeout=30,
        properties=_connect_properties(settings.max_incoming)
        if settings.version == 5 and settings.max_incoming
        else None,
    )
    try:
        await asyncio.wait_for(client.__aenter__(), CONNECT_TIMEOUT)
    except asyncio.TimeoutError:
        raise BridgeError(
            f"MQTT broker {settings.host}:{settings.port}: no CONNACK within {CONNECT_TIMEOUT:g} s"
        ) from None
    except (aiomqtt.MqttError, OSError, ssl.SSLError) as exc:
        raise BridgeError(f"MQTT broker {settings.host}:{settings.port}: {exc}") from None
    _QOS[client] = settings.qos
    try:
        yield client
    finally:
        # A graceful disconnect waits for the broker to close the connection; some brokers take
        # their time (aiomqtt would wait its whole 30 s timeout), so a stop never waits long for it,
        # not even for the cancelled disconnect to wind down (with a call still pending, e.g. an
        # UNSUBSCRIBE the broker never answered, it may not).
        closing = asyncio.ensure_future(client.__aexit__(None, None, None))
        closing.add_done_callback(_quietly)
        done, _ = await asyncio.wait({closing}, timeout=DISCONNECT_WAIT)
        if not done:
            closing.cancel()
            log.debug("MQTT broker %s:%s did not confirm the disconnect in time", settings.host, settings.port)


def _quietly(task: asyncio.Future) -> None:
    """Read a finished disconnect's outcome (it is of no further interest)."""
    if not task.cancelled():
        task.exception()


async def publish_all(client: aiomqtt.Client, messages: Iterable[Publish], version: int, concurrency: int = 64,
                      refused: list[tuple[str, str]] | None = None) -> int:
    """Publish and wait for every PUBACK; returns the payload bytes sent.

    A message the client refuses (an invalid topic) is skipped, logged and added to `refused`;
    it never stops the others."""
    sent = 0
    messages = list(messages)
    pending = iter(messages)  # shared by the senders: each takes the next message when its last one is acknowledged

    async def sender() -> None:
        nonlocal sent
        for msg in pending:
            try:
                await client.publish(msg.topic, msg.payload, qos=min(msg.qos, _QOS.get(client, 1)), retain=msg.retain,
                                     properties=_properties(msg, version))
            except (ValueError, TypeError) as exc:
                log.error("not published to %r: %s", msg.topic[:200], exc)
                if refused is not None:
                    refused.append((msg.topic, str(exc)))
                continue
            sent += len(msg.payload)

    try:  # `concurrency` messages in flight, without a task and a semaphore round per message
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(messages))):
                group.create_task(sender())
    except* aiomqtt.MqttError as errors:
        raise BridgeError(f"publishing failed: {errors.exceptions[0]}") from None
    return sent


async def subscribe_all(client: aiomqtt.Client, topics: Iterable[str], at_most_once: Iterable[str] = ()) -> None:
    """Subscribe at the connection's QoS, those in `at_most_once` at QoS 0 (BridgeError when the broker does not
    answer within SUBSCRIBE_TIMEOUT)."""
    lossy = set(at_most_once)
    for topic in topics:
        try:
            await client.subscribe(topic, qos=0 if topic in lossy else _QOS.get(client, 1), timeout=SUBSCRIBE_TIMEOUT)
        except aiomqtt.MqttError as exc:
            raise BridgeError(f"subscribing to {topic} failed: {exc}") from None


async def unsubscribe_all(client: aiomqtt.Client, topics: Iterable[str]) -> None:
    """Unsubscribe from each of `topics` (BridgeError when the broker does not answer within SUBSCRIBE_TIMEOUT)."""
    for topic in topics:
        try:
            await client.unsubscribe(topic, timeout=SUBSCRIBE_TIMEOUT)
        except aiomqtt.MqttError as exc:
            raise BridgeError(f"unsubscribing from {topic} failed: {exc}") from None


async def stop(task: asyncio.Task, patience: float = 1.0) -> None:
    """Cancel `task` and wait until it has ended, cancelling again while it has not: in Python 3.11 a
    cancellation that meets the timeout of an asyncio.wait_for (aiomqtt waits for its acknowledgements
    with one) is lost, and a connection's loop then runs on."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=patience)


async def next_message(client: aiomqtt.Client, timeout: float) -> tuple[str, bytes] | None:
    """The next incoming message as (topic, payload), or None when none came within `timeout` seconds."""
    try:  # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that meets its
        # timeout, and a pillar's loop asking every second would then never stop
        async with asyncio.timeout(timeout):
            message = await anext(client.messages)
    except TimeoutError:
        return None
    return _unpacked(message)


async def messages(client: aiomqtt.Client) -> AsyncIterator[tuple[str, bytes]]:
    """(topic, payload) of every incoming message."""
    async for message in client.messages:
        yield _unpacked(message)


def _unpacked(message: aiomqtt.Message) -> tuple[str, bytes]:
    payload = (
        message.payload if isinstance(message.payload, (bytes, bytearray)) else str(message.payload or "").encode()
    )
    return str(message.topic), bytes(payload)


async def keep_connected(
    settings: BrokerSettings,
    will: Publish,
    session: Callable[[aiomqtt.Client], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]],
    random: Callable[[], float],
    on_state: Callable[[bool, str], None] | None = None,
    max_backoff: float = 30.0,
) -> None:
    """Run `session` on a connected client; when the connection drops, reconnect with backoff and jitter."""
    failures = 0
    nodes = [(settings.host, settings.port), *settings.failover]
    while True:
        index = failures % len(nodes)
        node = nodes[index]
        # Another node of a cluster gets its own client id: a NATS node waits for the session a dead node held.
        client_id = settings.client_id if index == 0 or not settings.client_id else f"{settings.client_id}@{index}"
        try:
            async with connect(replace(settings, host=node[0], port=node[1], client_id=client_id), will) as client:
                failures = 0
                if on_state:
                    on_state(True, "")
                await session(client)
                return
        except (BridgeError, aiomqtt.MqttError) as exc:
            failures += 1
            if on_state:
                on_state(False, str(exc))
            delay = min(max_backoff, 0.5 * 2 ** min(failures, 10)) * (0.5 + random())
            after = nodes[failures % len(nodes)]
            log.warning(
                "MQTT connection to %s:%s lost (%s); trying %s:%s in %.1f s",
                node[0],
                node[1],
                exc,
                after[0],
                after[1],
                delay,
            )
            await sleep(delay)
