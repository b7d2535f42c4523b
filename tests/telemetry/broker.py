"""A real Mosquitto for tests, benchmarks and demos: own config, own port, own test CA.

``Pki`` makes a throw-away CA (``openssl``), a server certificate for localhost/127.0.0.1 and
client certificates whose CN is the MQTT identity; ``Mosquitto`` writes a config with the
per-kiosk ACL of ``examples/mosquitto``, a password listener and an mTLS listener on free
loopback ports, and runs the broker as a child process (never the system broker).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "mosquitto"
ACL = (EXAMPLE / "acl").read_text()  # the tests run the shipped ACL, so the two cannot drift


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Pki:
    """A test CA with a server certificate and client certificates on demand."""

    def __init__(self, folder: Path, name: str = "kiosk-test-ca") -> None:
        self.dir = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.ca = folder / f"{name}.crt"
        self.ca_key = folder / f"{name}.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key.name,
                 "-out", self.ca.name, "-days", "30", "-subj", f"/CN={name}", cwd=folder)
        self.server_cert, self.server_key = self._issue("server", "localhost",
                                                        "subjectAltName=DNS:localhost,IP:127.0.0.1\n")

    def _issue(self, stem: str, cn: str, ext: str = "") -> tuple[Path, Path]:
        key, csr, crt = (self.dir / f"{stem}.{x}" for x in ("key", "csr", "crt"))
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key.name, "-out", csr.name,
                 "-subj", f"/CN={cn}", cwd=self.dir)
        args = ["x509", "-req", "-in", csr.name, "-CA", self.ca.name, "-CAkey", self.ca_key.name,
                "-CAcreateserial", "-out", crt.name, "-days", "30"]
        if ext:
            (self.dir / f"{stem}.ext").write_text(ext)
            args += ["-extfile", f"{stem}.ext"]
        _openssl(*args, cwd=self.dir)
        return crt, key

    def client(self, cn: str) -> tuple[Path, Path]:
        crt, key = self.dir / f"client-{cn}.crt", self.dir / f"client-{cn}.key"
        if not crt.exists():
            self._issue(f"client-{cn}", cn)
        return crt, key


class Mosquitto:
    """``with Mosquitto(folder, users={...}, pki=pki) as broker:`` ... ``broker.url``."""

    def __init__(self, folder: Path, users: dict[str, str], pki: Pki | None = None,
                 max_queued: int = 1000) -> None:
        self.dir = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.users = users
        self.pki = pki
        self.port = free_port()
        self.tls_port = free_port() if pki else None
        self.max_queued = max_queued
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "mosquitto.log"
        self.conf = folder / "mosquitto.conf"
        self._write_files()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def _write_files(self) -> None:
        passwd = self.dir / "passwd"
        passwd.write_text("")
        for user, password in self.users.items():
            subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), user, password], check=True,
                           capture_output=True)
        (self.dir / "acl").write_text(ACL)
        lines = [
            # Started as root, Mosquitto switches to user "mosquitto", which cannot read our tmp files.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {self.dir / 'acl'}",
            "persistence false",
            f"max_queued_messages {self.max_queued}",
            f"log_dest file {self.log}",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.pki is not None:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.pki.ca}",
                f"certfile {self.pki.server_cert}",
                f"keyfile {self.pki.server_key}",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 5.0) -> Mosquitto:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err} {self.log_text()}")
            if all(_listening(p) for p in ports if p):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {ports} within {timeout}s: {self.log_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_listening(proc: subprocess.Popen[bytes], ports: list[int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {proc.returncode}")
        if all(_listening(p) for p in ports):
            return
        time.sleep(0.02)
    raise RuntimeError(f"mosquitto did not listen on {ports} within {timeout}s")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
