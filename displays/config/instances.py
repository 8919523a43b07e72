"""The `[service]` table of the config: what makes several instances one deployment (docs/deploy.md).

    [service]
    deployment = "mainz"               # its name; instances announcing another one are never joined
    secret_env = "STOPCAST_SECRET"     # the environment variable holding a secret shared by its instances
    peers = ["http://10.0.0.2:8080"]   # the HTTP addresses requests may be passed to without that secret
    heartbeat = 10                     # seconds between announcements; one older than 3 of them is dead
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from firmware_bridge.topics import is_name
from layouts.validation import ConfigError, Fields, defaults_of


@dataclass(frozen=True, slots=True)
class InstancesConfig:
    """How the instances of one deployment recognise each other."""

    deployment: str = ""  # "": the deployment is its display set alone
    secret: str = ""  # from secret_env: announcements carry an HMAC of it; others are not joined or proxied to
    peers: tuple[str, ...] = ()  # HTTP base URLs of this deployment's instances (proxying without the secret)
    heartbeat: int = 10

    @property
    def ttl(self) -> int:
        """How long one announcement proves its instance live: three heartbeats."""
        return 3 * self.heartbeat


def frame_key(secret: str, display_id: str) -> bytes:
    """A display's frame key (32 bytes): HMAC-SHA256 of its id under [mqtt] frame_secret_env's secret. The service
    derives it; the pillar is given it (`stopcast frame-key`) like its MQTT password."""
    return hmac.new(secret.encode(), f"stopcast frame key\n{display_id}".encode(), hashlib.sha256).digest()


def parse_instances(raw: Any, source: str) -> InstancesConfig:
    """The [service] table, validated."""
    if not isinstance(raw, dict):
        raise ConfigError(source, "must be a table", field_name="service")
    v = Fields(source, raw, defaults_of(InstancesConfig), prefix="service.")
    v.only({f.name for f in fields(InstancesConfig)} - {"secret"} | {"secret_env"})
    deployment = v.string("deployment")
    if deployment and not is_name(deployment):
        raise v.fail("deployment", f"must be 1 to 64 of A-Z a-z 0-9 _ . - and nothing else, got {deployment!r}")
    secret = ""
    if "secret_env" in raw:
        name = v.string("secret_env")
        secret = os.environ.get(name, "")
        if len(secret) < 16:
            raise v.fail("secret_env", f"environment variable {name!r} must hold a secret of at least 16 characters "
                                       f"({'it is unset' if not secret else f'it has {len(secret)}'})")
    peers = v.strings("peers")
    for i, peer in enumerate(peers):
        parts = urlsplit(peer)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise v.fail("peers", f"entry {i} {peer!r}: must be an instance's http://host:port")
    return InstancesConfig(deployment=deployment, secret=secret, peers=tuple(p.rstrip("/") for p in peers),
                           heartbeat=v.integer("heartbeat", 1, 300))
