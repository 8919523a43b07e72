"""Getting the GTFS file: a local path as it is, or an http(s) URL downloaded into the cache."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import aiohttp

from feeds.errors import FeedError, Location

log = logging.getLogger("stopcast.feeds")
MAX_GTFS_BYTES = 1 << 30


async def fetch_gtfs(source: str, session: aiohttp.ClientSession, folder: Path) -> Path:
    """The local file of the feed; a URL is downloaded into `folder` (the state folder's gtfs/) with
    If-None-Match, and the last good download is kept when the feed is unchanged or failing.

    FeedError only when a URL fails and no earlier download exists.
    """
    if not source.startswith(("http://", "https://")):
        return Path(source)
    folder.mkdir(parents=True, exist_ok=True)
    stem = hashlib.blake2b(source.encode(), digest_size=8).hexdigest()
    target, etag_file = folder / f"{stem}.zip", folder / f"{stem}.etag"
    headers = {}
    if target.exists() and etag_file.exists():
        headers["If-None-Match"] = etag_file.read_text().strip()
    try:
        async with session.get(source, headers=headers, timeout=aiohttp.ClientTimeout(total=300)) as response:
            if response.status == 304:
                return target
            if response.status != 200:
                raise FeedError(f"HTTP {response.status}", Location(source))
            tmp = target.with_suffix(".part")
            size = 0
            with tmp.open("wb") as out:
                async for chunk in response.content.iter_chunked(1 << 20):
                    size += len(chunk)
                    if size > MAX_GTFS_BYTES:
                        raise FeedError(f"larger than {MAX_GTFS_BYTES} bytes", Location(source))
                    out.write(chunk)
            os.replace(tmp, target)
            if response.headers.get("ETag"):
                etag_file.write_text(response.headers["ETag"])
            return target
    except (aiohttp.ClientError, TimeoutError, FeedError) as exc:
        if target.exists():
            log.warning("GTFS %s could not be fetched (%s); keeping the last download", source, exc)
            return target
        reason = exc.message if isinstance(exc, FeedError) else (str(exc) or type(exc).__name__)
        raise FeedError(f"could not be fetched: {reason}", Location(source)) from None
