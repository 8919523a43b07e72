"""The generated Mosquitto ACL refuses every name that could break a line or widen access."""

from __future__ import annotations

import pytest
from speckit import spec

from firmware_bridge.acl import AclError, mosquitto_acl


@pytest.mark.parametrize(("prefix", "service", "pillars", "message"), [
    ("stopcast/v1", "stopcast", [("hbf", "a\ntopic readwrite #")], "display 'hbf': mqtt_user 'a\\ntopic readwrite #'"),
    ("stopcast/v1", "stopcast", [("hbf", "pillar hbf")], "mqtt_user 'pillar hbf'"),
    ("stopcast/v1", "stopcast", [("hbf\n", "p")], "display id 'hbf\\n'"),
    ("stopcast/v1", "stopcast", [("+", "p")], "display id '+'"),
    ("stopcast/v1", "stopcast", [("a/#", "p")], "display id 'a/#'"),
    ("stopcast/#", "stopcast", [("hbf", "p")], "topic prefix 'stopcast/#'"),
    ("stopcast/v1", "svc\n", [], "service user 'svc\\n'"),
    ("stopcast/v1", "stopcast", [("hbf", "")], "mqtt_user ''"),
])
def test_unsafe_names_are_refused(prefix: str, service: str, pillars: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(AclError, match=message.replace("\\", "\\\\").replace("+", "\\+")):
        mosquitto_acl(prefix, service, pillars)


@spec("P-1")
def test_each_pillar_gets_exactly_its_own_topics() -> None:
    text = mosquitto_acl("stopcast/v1", "stopcast", [("hbf-a", "pillar-a@mainz")])
    pillar = text.split("user pillar-a@mainz\n", 1)[1].strip().splitlines()
    assert all(
        line.split()[-1].startswith("stopcast/v1/displays/hbf-a/") or line.endswith("service/status") for line in pillar
    )
    assert "#" not in "".join(pillar).replace("frame/#", "").replace(
        "audio/#", ""
    )  # only its own frame chunks and audio


@spec("P-1")
async def test_under_the_generated_acl_a_pillar_reads_its_ticker(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from brokerkit import mosquitto

    from firmware_bridge import client as mqtt
    from firmware_bridge.messages import Publish

    acl = mosquitto_acl("stopcast/v1", "svc", [("gons-led", "led"), ("other", "intruder")])
    users = {"svc": "s3cret", "led": "l3d", "intruder": "n0pe"}
    with mosquitto(tmp_path / "broker", users=users, acl=acl) as broker:
        def settings(user: str) -> mqtt.BrokerSettings:
            return mqtt.BrokerSettings("127.0.0.1", broker.port, user, users[user], client_id=f"t-{user}")

        topic = "stopcast/v1/displays/gons-led/ticker"
        async with mqtt.connect(settings("svc")) as service:
            await mqtt.publish_all(service, [Publish(topic, b"ST strip", True)], 5)
        async with mqtt.connect(settings("led")) as led, mqtt.connect(settings("intruder")) as intruder:
            await mqtt.subscribe_all(led, [topic])
            await mqtt.subscribe_all(intruder, [topic])
            assert await mqtt.next_message(led, 5.0) == (topic, b"ST strip")
            assert await mqtt.next_message(intruder, 0.5) is None  # another display's pillar reads nothing of it
