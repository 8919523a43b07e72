"""Issue 26 item 16 (parts): SIGKILL of `serve` leaves no render worker or resource tracker running; an
`mqtt_user` equal to the service's MQTT user is refused by check-config."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from brokerkit import mosquitto
from instancekit import displays
from servicekit import write_config


def _children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's")
def test_sigkill_of_serve_leaves_no_render_worker_or_resource_tracker(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        config = write_config(tmp_path / "cfg", broker.url, dt.date.today(), displays(3),
                              http={"listen": "127.0.0.1:0"})
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "displays.cli",
                "serve",
                "--config",
                str(config),
                "--workers",
                "1",
                "--cache-dir",
                str(tmp_path / "cache"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "STOPCAST_STATE_DIR": str(tmp_path / "s")},
        )
        try:
            deadline = time.monotonic() + 60
            while len(_children(serve.pid)) < 2:  # the render worker and the resource tracker
                assert serve.poll() is None and time.monotonic() < deadline, _children(serve.pid)
                time.sleep(0.1)  # polling /proc for a real process's children, bounded by the deadline
            children = _children(serve.pid)
            serve.send_signal(signal.SIGKILL)
            serve.wait()
            deadline = time.monotonic() + 10
            while any(_alive(c) for c in children):
                if time.monotonic() > deadline:
                    left = [c for c in children if _alive(c)]
                    for c in left:
                        os.kill(c, signal.SIGKILL)
                    raise AssertionError(f"still running 10 s after serve was killed: {left}")
                time.sleep(0.1)  # polling /proc, bounded by the deadline
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait()


def test_check_config_refuses_a_pillar_user_equal_to_the_service_user(tmp_path: Path) -> None:
    items = displays(2)
    items[1]["mqtt_user"] = "stopcast"
    config = write_config(tmp_path / "cfg", "mqtt://127.0.0.1:1", dt.date.today(), items,
                          mqtt={"url": "mqtt://127.0.0.1:1", "username": "stopcast"})
    done = subprocess.run([sys.executable, "-m", "displays.cli", "check-config", str(config), "--cache-dir",
                           str(tmp_path / "cache")], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "d01" in done.stderr + done.stdout and "mqtt_user" in done.stderr + done.stdout, done.stderr + done.stdout
    assert "Traceback" not in done.stderr
