"""TRMNL devices' API keys, kept in the state folder: issued once per device at its first setup, the
same key for every later setup, valid across restarts and admin-token changes until ops revoke it.

A key is an HMAC of the device's MAC and its key generation under the state folder's random secret
(generation 0 is what stopcast issued before keys were recorded, so those devices keep working); the
file `trmnl-keys.json` (mode 0600) records which devices hold a key, since when, and which were revoked.
A revoked device's next setup gets a key of the next generation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .state import StateError, device_secret

__all__ = ["DeviceKey", "DeviceKeys", "KEYS_FILE", "normal_mac"]

KEYS_FILE = "trmnl-keys.json"


def normal_mac(device_id: str) -> str:
    """A device id (MAC) as keys are recorded: trimmed, upper case."""
    return device_id.strip().upper()


@dataclass(frozen=True)
class DeviceKey:
    """One device's key record."""

    mac: str
    generation: int
    issued_at: int
    revoked_at: int | None = None


class DeviceKeys:
    """The key records of one state folder (read on first use, written on every change)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._secret: bytes | None = None
        self._records: dict[str, DeviceKey] | None = None

    def _path(self) -> Path:
        return self.folder / KEYS_FILE

    def _load(self) -> dict[str, DeviceKey]:
        if self._records is None:
            self._secret = device_secret(self.folder)
            try:
                raw = json.loads(self._path().read_text(encoding="utf-8"))
                self._records = {r["mac"]: DeviceKey(**r) for r in raw["devices"]}
            except FileNotFoundError:
                self._records = {}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise StateError(f"{self._path()}: cannot be read as the TRMNL keys ({exc}); fix or restore it") from None
        return self._records

    def _save(self) -> None:
        records = self._load()
        tmp = self.folder / f".{KEYS_FILE}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"devices": [asdict(r) for r in records.values()]}, fh, indent=1)
            tmp.replace(self._path())
        except OSError as exc:
            raise StateError(f"state folder {self.folder}: cannot keep the TRMNL keys ({exc.strerror or exc})") from None

    def _key(self, mac: str, generation: int) -> str:
        message = mac if generation == 0 else f"{mac}#{generation}"
        assert self._secret is not None
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()[:22]

    def issue(self, device_id: str, now: int) -> str:
        """The device's key: the one it was issued, or a new one (first setup, or after a revocation)."""
        mac = normal_mac(device_id)
        records = self._load()
        found = records.get(mac)
        if found is None or found.revoked_at is not None:
            generation = found.generation + 1 if found is not None else 0
            records[mac] = DeviceKey(mac, generation, now)
            self._save()
        return self._key(mac, records[mac].generation)

    def check(self, device_id: str, token: str, now: int) -> bool:
        """Whether `token` is the device's current, unrevoked key (a key issued before keys were recorded is
        recorded when it is first used)."""
        mac = normal_mac(device_id)
        records = self._load()
        found = records.get(mac)
        if not mac or (found is not None and found.revoked_at is not None):
            return False
        expected = self._key(mac, found.generation if found is not None else 0)
        valid = token.isascii() and hmac.compare_digest(token.encode(), expected.encode())
        if valid and found is None:
            records[mac] = DeviceKey(mac, 0, now)
            self._save()
        return valid

    def revoke(self, device_id: str, now: int) -> DeviceKey | None:
        """Revoke a device's key (None when it has none); its next setup gets a new one."""
        mac = normal_mac(device_id)
        records = self._load()
        found = records.get(mac)
        if found is None or found.revoked_at is not None:
            return None
        records[mac] = replace(found, revoked_at=now)
        self._save()
        return records[mac]

    def all(self) -> list[DeviceKey]:
        """Every key record, by MAC."""
        return sorted(self._load().values(), key=lambda r: r.mac)
