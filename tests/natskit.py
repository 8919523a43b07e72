"""A three-node NATS cluster with JetStream and its MQTT listener, started per test on free ports
(Debian's nats-server); skips the test, saying why, when the binary is missing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from brokerkit import free_port


@dataclass
class Node:
    name: str
    client_port: int
    route_port: int
    mqtt_port: int
    monitor_port: int  # nats-server's HTTP monitoring (/healthz)
    conf: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    def kill(self) -> None:
        """SIGKILL the node (no goodbye to its clients or its cluster)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Cluster:
    nodes: list[Node] = field(default_factory=list)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _healthy(port: int) -> bool:
    """Whether the node's monitoring endpoint says it is healthy (its JetStream included)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:  # refused, or an HTTP error (503 while it is not yet healthy)
        return False


@contextmanager
def nats_cluster(folder: Path) -> Iterator[Cluster]:
    """Three clustered nodes, each with JetStream (retained messages replicated to all three) and MQTT."""
    binary = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if binary is None:
        pytest.skip("nats-server is not installed (Debian: apt-get install nats-server)")
    folder.mkdir(parents=True, exist_ok=True)
    nodes = [
        Node(f"n{i}", free_port(), free_port(), free_port(), free_port(), folder / f"n{i}.conf") for i in (1, 2, 3)
    ]
    routes = ", ".join(f"nats-route://127.0.0.1:{n.route_port}" for n in nodes)
    for node in nodes:
        node.conf.write_text(
            f'server_name: {node.name}\nlisten: 127.0.0.1:{node.client_port}\nhttp: 127.0.0.1:{node.monitor_port}\n'
            f'jetstream {{ store_dir: "{folder / node.name}" }}\n'
            f"cluster {{ name: stopcast-test, listen: 127.0.0.1:{node.route_port}, routes: [{routes}] }}\n"
            f"mqtt {{ listen: 127.0.0.1:{node.mqtt_port}, stream_replicas: 3 }}\n")
    cluster = Cluster(nodes)
    try:
        for node in nodes:
            node.process = subprocess.Popen([binary, "-c", str(node.conf)], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        # healthy too: an MQTT CONNECT sent before that got no CONNACK at all (3 of 3 runs), and the test's
        # readiness check lost a whole attempt (5 s) on it
        while not all(_listening(n.mqtt_port) and _healthy(n.monitor_port) for n in nodes):
            if time.monotonic() > deadline or any(n.process and n.process.poll() is not None for n in nodes):
                raise RuntimeError("the NATS cluster did not start")
            time.sleep(0.05)  # readiness poll of child processes, bounded by the deadline
        yield cluster
    finally:
        for node in nodes:
            node.kill()
