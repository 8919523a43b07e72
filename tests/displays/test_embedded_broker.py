"""The demo's embedded broker (amqtt) delivers a client only what it subscribed to, retained messages too:
the demo's pillar command showed another display's frame when it did not."""

from __future__ import annotations

import asyncio

import aiomqtt

from displays.shell.embedded import embedded_broker

PREFIX = "stopcast/v1/displays"


async def _received_until_marker(client: aiomqtt.Client, marker_topic: str) -> list[tuple[str, bytes]]:
    """Every message up to the marker (published after subscribing: everything before it has arrived)."""
    got = []
    async with asyncio.timeout(10):
        async for message in client.messages:
            if str(message.topic) == marker_topic:
                return got
            got.append((str(message.topic), bytes(message.payload)))
    return got


async def test_a_client_gets_only_the_retained_messages_of_its_own_subscriptions() -> None:
    async with embedded_broker() as port:
        settings = {"hostname": "127.0.0.1", "port": port, "protocol": aiomqtt.ProtocolVersion.V311}
        async with aiomqtt.Client(identifier="service", **settings) as service:
            await service.subscribe(f"{PREFIX}/+/status")
            async with aiomqtt.Client(identifier="pillar-hbf", **settings) as other:
                await other.subscribe(f"{PREFIX}/hbf/frame/#")
                await other.subscribe(f"{PREFIX}/hbf/board")
                for topic, payload in ((f"{PREFIX}/hbf/frame/0", b"HBF frame"), (f"{PREFIX}/hbf/board", b"HBF board"),
                                       (f"{PREFIX}/hbf/status", b'{"state": "online"}'),
                                       (f"{PREFIX}/uni/frame/0", b"UNI frame")):
                    await service.publish(topic, payload, qos=1, retain=True)
                async with aiomqtt.Client(identifier="pillar-uni", **settings) as pillar:
                    await pillar.subscribe(f"{PREFIX}/uni/frame/#", qos=1)
                    await pillar.subscribe(f"{PREFIX}/uni/delta", qos=1)
                    await service.publish(f"{PREFIX}/uni/delta", b"marker", qos=1)
                    got = await _received_until_marker(pillar, f"{PREFIX}/uni/delta")
    assert got == [(f"{PREFIX}/uni/frame/0", b"UNI frame")]
