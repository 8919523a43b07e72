"""TRMNL devices' API keys, kept in the state folder: issued once per device at its first setup, the
same key for every later setup, valid across restarts and admin-token changes until ops revoke it.

A key is an HMAC of the device's MAC and its key generation under the state folder's random secret
(generation 0 is what stopcast issued before keys were recorded, so those devices keep working); the
file `trmnl-keys.json` (mode 0600) records which devices hold a key, since when, and which were revoked.
Once a key is issued, setup of that MAC answers only a device that presents its current key (the same key
again) or one that ops allowed to set up anew (`allow_setup`, for a while and once: it gets a key of the next
generation, which ends the old one). A revoked device needs that approval too: a spoofed MAC gets nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from displays.shell.durable import write_durably
from displays.shell.state import StateError, device_secret

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
    setup_allowed_until: int | None = None  # ops allowed one new setup until then


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
                raise StateError(
                    f"{self._path()}: cannot be read as the TRMNL keys ({exc}); fix or restore it"
                ) from None
        return self._records

    def _save(self) -> None:
        records = self._load()
        try:
            write_durably(self._path(), json.dumps({"devices": [asdict(r) for r in records.values()]}, indent=1), 0o600)
        except OSError as exc:
            raise StateError(
                f"state folder {self.folder}: cannot keep the TRMNL keys ({exc.strerror or exc})"
            ) from None

    def _key(self, mac: str, generation: int) -> str:
        message = mac if generation == 0 else f"{mac}#{generation}"
        assert self._secret is not None
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()[:22]

    def issue(self, device_id: str, now: int, token: str = "") -> str | None:
        """The device's key at setup: a new one at its first setup; the same one again when the device presents
        it (`token`); a new generation when ops allowed a new setup (once, until the approval's time); else
        None (a key was issued and is neither presented nor replaced with ops approval)."""
        mac = normal_mac(device_id)
        records = self._load()
        found = records.get(mac)
        if found is None:
            records[mac] = DeviceKey(mac, 0, now)
            self._save()
        elif found.setup_allowed_until is not None and now <= found.setup_allowed_until:
            records[mac] = DeviceKey(mac, found.generation + 1, now)
            self._save()
        elif found.revoked_at is not None or not self._matches(mac, found.generation, token):
            return None
        return self._key(mac, records[mac].generation)

    def allow_setup(self, device_id: str, now: int, seconds: int) -> DeviceKey | None:
        """Ops allow the device one new setup within `seconds` (None when it never had a key: its first setup
        needs no approval)."""
        mac = normal_mac(device_id)
        records = self._load()
        found = records.get(mac)
        if found is None:
            return None
        records[mac] = replace(found, setup_allowed_until=now + seconds)
        self._save()
        return records[mac]

    def _matches(self, mac: str, generation: int, token: str) -> bool:
        return (
            bool(token) and token.isascii() and hmac.compare_digest(token.encode(), self._key(mac, generation).encode())
        )

    def check(self, device_id: str, token: str, now: int) -> bool:
        """Whether `token` is the device's current, unrevoked key (a key issued before keys were recorded is
        recorded when it is first used)."""
        mac = normal_mac(device_id)
        records = self._load()
        found = records.get(mac)
        if not mac or (found is not None and found.revoked_at is not None):
            return False
        valid = self._matches(mac, found.generation if found is not None else 0, token)
        if valid and found is None:
            records[mac] = DeviceKey(mac, 0, now)
            self._save()
        return valid

    def revoke(self, device_id: str, now: int) -> DeviceKey | None:
        """Revoke a device's key (None when it has none); a new setup needs ops approval (allow_setup)."""
        mac = normal_mac(device_id)
        records = self._load()
        found = records.get(mac)
        if found is None or found.revoked_at is not None:
            return None
        records[mac] = replace(found, revoked_at=now, setup_allowed_until=None)
        self._save()
        return records[mac]

    def all(self) -> list[DeviceKey]:
        """Every key record, by MAC."""
        return sorted(self._load().values(), key=lambda r: r.mac)
