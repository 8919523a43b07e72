"""TRMNL's firmware (usetrmnl/firmware, src/bl.cpp and lib/trmnl/src/bmp.cpp) as the service sees it,
request by request: setup on `/api/setup/` (trailing slash, no redirects followed), `/api/display` with
the firmware's headers, the image downloaded only when `filename` changes, checked as bmp.cpp checks it,
and the firmware's reset rule: JSON `status: 500` or `reset_firmware: true` erases its settings."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from aiohttp.test_utils import TestClient

MAX_IMAGE = 48_062  # DISPLAY_BMP_IMAGE_SIZE: larger downloads are refused


def bmp_problem(data: bytes) -> str:
    """What bmp.cpp's parseBMPHeader refuses in an image ('' when it accepts it)."""
    if len(data) < 62 or data[:2] != b"BM":
        return "not a BMP"
    width, height = struct.unpack_from("<II", data, 18)
    bits, = struct.unpack_from("<H", data, 28)
    image_size, = struct.unpack_from("<I", data, 34)
    colours, = struct.unpack_from("<I", data, 46)
    offset, = struct.unpack_from("<I", data, 10)
    if (width, height, bits, image_size, colours) != (800, 480, 1, 48000, 2):
        return f"bad size: {width}x{height} {bits} bit, {image_size} bytes, {colours} colours"
    if offset <= 54:
        return "invalid offset"
    if data[54:62] not in (bytes([0, 0, 0, 0, 255, 255, 255, 0]), bytes([255, 255, 255, 0, 0, 0, 0, 0])):
        return "colour scheme damaged"
    return ""


@dataclass
class Firmware:
    """One device: what it keeps in flash, and what it did."""

    client: TestClient
    mac: str
    api_key: str = ""
    friendly_id: str = ""
    logo: bytes = b""
    filename: str = ""
    shown: bytes = b""
    refresh_rate: int = 900
    wiped: bool = False
    errors: list[str] = field(default_factory=list)

    def _path(self, url: str) -> str:
        base = str(self.client.make_url("")).rstrip("/")
        assert url.startswith(base), url
        return url[len(base):]

    async def _image(self, url: str) -> bytes | None:
        answer = await self.client.get(self._path(url), allow_redirects=False)
        data = await answer.read()
        if answer.status not in (200, 301):
            self.errors.append(f"image: HTTP {answer.status}")
            return None
        if len(data) > MAX_IMAGE:
            self.errors.append(f"image of {len(data)} bytes")
            return None
        problem = bmp_problem(data)
        if problem:
            self.errors.append(f"image: {problem}")
            return None
        return data

    def _wipe(self) -> None:
        self.wiped = True
        self.api_key = self.friendly_id = self.filename = ""

    async def setup(self) -> bool:
        """The setup call of a device without a key; True when it got one."""
        answer = await self.client.get("/api/setup/", headers={"ID": self.mac}, allow_redirects=False)
        if answer.status != 200:
            self.errors.append(f"setup: HTTP {answer.status}")
            return False
        doc = await answer.json()
        if doc.get("status") != 200:
            self.errors.append(f"setup: status {doc.get('status')}")
            return False
        self.api_key, self.friendly_id = doc["api_key"], doc["friendly_id"]
        logo = await self._image(doc["image_url"])
        if logo is not None:
            self.logo = logo
        return True

    async def wake(self) -> bool:
        """One wake: /api/display, then the image when its filename is new. True when it drew a new image."""
        headers = {"ID": self.mac, "Access-Token": self.api_key, "Refresh-Rate": str(self.refresh_rate),
                   "Battery-Voltage": "4.01", "FW-Version": "1.5.7", "RSSI": "-61", "Width": "800", "Height": "480",
                   "Content-Type": "application/json"}
        answer = await self.client.get("/api/display", headers=headers, allow_redirects=False)
        if answer.status != 200:
            self.errors.append(f"display: HTTP {answer.status}")  # shows an error and retries later
            return False
        doc = await answer.json()
        if doc.get("status") == 500 or doc.get("reset_firmware"):
            self._wipe()
            return False
        if doc.get("status") != 0:
            return False
        self.refresh_rate = int(doc.get("refresh_rate") or self.refresh_rate)
        if not doc.get("image_url") or doc.get("filename") == self.filename:
            return False
        image = await self._image(doc["image_url"])
        if image is None:
            return False
        self.shown, self.filename = image, doc["filename"]
        return True
