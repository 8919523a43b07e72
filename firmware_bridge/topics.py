"""The MQTT topics of the pillar contract (docs/mqtt.md)."""

from __future__ import annotations

DEFAULT_PREFIX = "stopcast/v1"


def display_topic(prefix: str, display_id: str, leaf: str) -> str:
    """{prefix}/displays/{id}/{leaf} for leaf in frame, delta, board, status, ack (or frame/{i})."""
    return f"{prefix}/displays/{display_id}/{leaf}"


def service_status_topic(prefix: str) -> str:
    """The service's own retained status (with a Last Will)."""
    return f"{prefix}/service/status"


def parse_display_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """(display id, leaf) of a display topic under `prefix`, or None."""
    head = f"{prefix}/displays/"
    if not topic.startswith(head):
        return None
    rest = topic[len(head) :]
    display_id, _, leaf = rest.partition("/")
    if not display_id or not leaf:
        return None
    return display_id, leaf
