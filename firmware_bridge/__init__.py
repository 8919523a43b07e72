"""The MQTT contract with pillars: frame encodings, the sans-I/O protocol (both ends), the MQTT link and the reference pillar.

The names below are the package's public face; each is imported on first use, so that
`import firmware_bridge` stays cheap (the CLI starts fast)."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Bridge": "protocol",
    "DisplayChannel": "channel",
    "PillarSession": "pillar",
    "ChannelState": "states",
    "PillarState": "states",
    "ProtocolError": "states",
    "Frame": "messages",
    "Publish": "messages",
    "Sent": "messages",
    "PillarAck": "messages",
    "PillarStatus": "messages",
    "PillarView": "messages",
    "Rejected": "messages",
    "MqttLink": "link",
    "BrokerSettings": "client",
    "BridgeError": "client",
    "mosquitto_acl": "acl",
    "run_pillar": "simulator",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """The public name `name`, from the module that defines it."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
