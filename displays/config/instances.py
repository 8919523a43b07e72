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
from dataclasses import dataclass


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
