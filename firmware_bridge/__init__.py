"""The MQTT contract with pillars: frame encodings, the sans-I/O protocol (both ends), the MQTT link and the
reference pillar.

The names below are the package's public face, each imported on first use (feeds/lazy.py)."""

from __future__ import annotations

from feeds.lazy import lazy_exports

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
__getattr__ = lazy_exports(__name__, _WHERE)
