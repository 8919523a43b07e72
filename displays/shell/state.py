"""The service's state folder: what it keeps between runs besides the config (secrets now; the
message store later). `[state] dir` in the config, else $STOPCAST_STATE_DIR, else the user's state
folder ($XDG_STATE_HOME or ~/.local/state)/stopcast.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from firmware_bridge.topics import is_instance

SECRET_FILE = "device-secret"
EPOCH_FILE = "epoch"


class StateError(Exception):
    """The state folder cannot be used; the message names it and why."""


def device_secret(folder: Path) -> bytes:
    """The random secret that device API keys are derived from: made once (32 bytes, mode 0600)
    and kept, so keys survive restarts and admin-token changes and follow from no public data."""
    path = folder / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: cannot be read as the device secret ({exc}); fix or remove it") from None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{SECRET_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # never replaces a secret another process made meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return bytes.fromhex(path.read_text().strip())
    except OSError as exc:
        raise StateError(f"state folder {folder}: cannot keep the device secret ({exc.strerror or exc})") from None


def next_epoch(folder: Path | None, now: int) -> int:
    """The ownership epoch of a starting service: its start time, and above the last one this state folder
    handed out (a restart within the same second, or a clock set back, still gets a larger epoch). Without
    a state folder (in-memory services, tests) it is the start time."""
    if folder is None:
        return now
    path = folder / EPOCH_FILE
    try:
        last = int(path.read_text().strip() or 0)
    except FileNotFoundError:
        last = 0
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: cannot be read as the last epoch ({exc}); fix or remove it") from None
    epoch = max(now, last + 1)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{EPOCH_FILE}.{os.getpid()}.tmp"
        tmp.write_text(f"{epoch}\n")
        tmp.replace(path)
    except OSError as exc:
        raise StateError(f"state folder {folder}: cannot keep the epoch ({exc.strerror or exc})") from None
    return epoch


def default_instance_name() -> str:
    """The host name and the process id: unique per running process."""
    host = "".join(c if is_instance(c) else "-" for c in socket.gethostname())[:100] or "host"
    return f"{host}:{os.getpid()}"
