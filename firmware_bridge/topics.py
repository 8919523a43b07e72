"""The MQTT topics of the pillar contract (docs/mqtt.md)."""

from __future__ import annotations

import re

# Display ids and layout names stand in topics, URLs and file names; MQTT user names stand in
# Mosquitto ACL lines. Whole-string matches only: no wildcard, slash, space or control character.
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
USER = re.compile(r"[A-Za-z0-9_.@:-]{1,128}")
PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def is_name(value: object) -> bool:
    """Whether `value` is a display id or layout name: 1-64 of A-Z a-z 0-9 _ . - and nothing else."""
    return isinstance(value, str) and NAME.fullmatch(value) is not None and value not in (".", "..")


def is_user(value: object) -> bool:
    """Whether `value` is a safe MQTT user name for an ACL line: 1-128 of A-Z a-z 0-9 _ . @ : -."""
    return isinstance(value, str) and USER.fullmatch(value) is not None


def is_prefix(value: object) -> bool:
    """Whether `value` is a topic prefix: segments of A-Z a-z 0-9 _ . - joined by single slashes."""
    return isinstance(value, str) and PREFIX.fullmatch(value) is not None


def display_topic(prefix: str, display_id: str, leaf: str) -> str:
    """{prefix}/displays/{id}/{leaf} for leaf in frame, delta, board, status, ack (or frame/{i})."""
    return f"{prefix}/displays/{display_id}/{leaf}"


def service_status_topic(prefix: str) -> str:
    """The service's own retained status (with a Last Will)."""
    return f"{prefix}/service/status"


def instance_topic(prefix: str, name: str) -> str:
    """A service instance's retained announcement (its Last Will says offline); name '+' to subscribe."""
    return f"{prefix}/service/instances/{name}"


def parse_instance_topic(prefix: str, topic: str) -> str | None:
    """The instance name of an announcement topic under `prefix`, or None."""
    head = f"{prefix}/service/instances/"
    name = topic[len(head):] if topic.startswith(head) else ""
    return name if is_instance(name) else None


INSTANCE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def is_instance(value: object) -> bool:
    """Whether `value` is an instance name: 1-128 of A-Z a-z 0-9 _ . : - (host names, host:pid)."""
    return isinstance(value, str) and INSTANCE.fullmatch(value) is not None


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
