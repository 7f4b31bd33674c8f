"""A real mosquitto broker: plain, password and TLS listeners on free loopback ports.

mosquitto comes from the Debian package (scripts/system-packages.txt); nothing is mocked.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from safecity.benchmarking import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
USER, PASSWORD = "gateway", "correct horse battery staple"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"mosquitto did not listen on {port} within {within_s} s")


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, made for this test run."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "safecity test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@dataclass
class Broker:
    folder: Path
    port: int = field(default_factory=free_port)
    auth_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    ca_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def configure(self) -> None:
        passwords = self.folder / "passwords"
        passwords.touch()
        subprocess.run(
            [MOSQUITTO_PASSWD, "-b", str(passwords), USER, PASSWORD],
            check=True,
            capture_output=True,
        )
        ca_file, cert_file, key_file = _certificates(self.folder)
        self.ca_file = ca_file
        (self.folder / "data").mkdir()
        (self.folder / "mosquitto.conf").write_text(
            "\n".join(
                [
                    "per_listener_settings true",
                    "user root",
                    "persistence true",
                    f"persistence_location {self.folder / 'data'}/",
                    "autosave_interval 1",
                    "max_inflight_messages 1000",
                    "max_queued_messages 0",
                    "log_dest none",
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    f"listener {self.auth_port} 127.0.0.1",
                    "allow_anonymous false",
                    f"password_file {passwords}",
                    f"listener {self.tls_port} 127.0.0.1",
                    "allow_anonymous true",
                    f"cafile {ca_file}",
                    f"certfile {cert_file}",
                    f"keyfile {key_file}",
                    "",
                ]
            )
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in (self.port, self.auth_port, self.tls_port):
            _wait_for_port(port, self.process)

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its sessions and queued messages before it exits."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
