"""A real Mosquitto for tests: started on a free port per test, optionally with passwords and an ACL."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Broker:
    """A running broker and how to reach it."""

    port: int
    process: subprocess.Popen
    folder: Path

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mosquitto exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)  # readiness poll of a child process, bounded by the deadline
    raise RuntimeError(f"mosquitto did not listen on {port} within {seconds} s")


@contextmanager
def mosquitto(folder: Path, users: dict[str, str] | None = None, acl: str | None = None, port: int | None = None,
              tls: tuple[Path, Path, Path] | None = None, extra: tuple[str, ...] = ()) -> Iterator[Broker]:
    """Start mosquitto on a free port (`extra`: more config lines); skips the test when the binary is missing."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto)")
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    lines = [f"listener {port} 127.0.0.1", "persistence false", "log_dest stderr", "log_type error"]
    if tls is not None:
        lines += [f"cafile {tls[0]}", f"certfile {tls[1]}", f"keyfile {tls[2]}"]
    if os.geteuid() == 0:
        lines.append(f"user {getpass.getuser()}")  # as root it would switch to 'mosquitto' and lose our files
    if users is None:
        lines.append("allow_anonymous true")
    else:
        passwd = folder / "passwd"
        passwd.write_text("")
        for user, password in users.items():
            subprocess.run(
                [shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b", str(passwd), user, password],
                check=True,
                capture_output=True,
            )
        passwd.chmod(0o600)
        lines += ["allow_anonymous false", f"password_file {passwd}"]
    if acl is not None:
        acl_file = folder / "acl"
        acl_file.write_text(acl)
        acl_file.chmod(0o600)
        lines.append(f"acl_file {acl_file}")
    conf = folder / "mosquitto.conf"
    conf.write_text("\n".join(lines + list(extra)) + "\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_listening(port, process)
        yield Broker(port, process, folder)
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen, timeout: float = 5) -> None:
    """SIGTERM, and SIGKILL when the process has not ended within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stopcast test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths
