"""The shipped examples/mosquitto config starts and does what its README says."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from kiosk.config import MqttSection
from kiosk.telemetry.client import ClientSettings, probe
from tests.telemetry.broker import (
    EXAMPLE,
    MOSQUITTO,
    MOSQUITTO_PASSWD,
    Pki,
    free_port,
    wait_listening,
)


def test_example_config_runs_with_passwords_and_client_certificates(tmp_path: Path, pki: Pki) -> None:
    etc, data = tmp_path / "etc", tmp_path / "data"
    etc.mkdir()
    data.mkdir()
    shutil.copy(EXAMPLE / "acl", etc / "acl")
    shutil.copy(pki.ca, etc / "ca.crt")
    shutil.copy(pki.server_cert, etc / "server.crt")
    shutil.copy(pki.server_key, etc / "server.key")
    subprocess.run([MOSQUITTO_PASSWD, "-c", "-b", str(etc / "passwd"), "kiosk-0001", "pw1"], check=True,
                   capture_output=True)
    plain, tls = free_port(), free_port()
    conf = (EXAMPLE / "mosquitto.conf").read_text()
    conf = conf.replace("/etc/mosquitto/kiosk/", f"{etc}/").replace("/var/lib/mosquitto/", f"{data}/")
    conf = conf.replace("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1")
    conf = conf.replace("listener 8883", f"listener {tls} 127.0.0.1")
    conf = f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlog_dest file {tmp_path / 'log'}\n" + conf
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, [plain, tls])
        with_password = ClientSettings.from_config(
            MqttSection(url=f"mqtt://127.0.0.1:{plain}", password="pw1"), "kiosk-0001")
        assert probe(with_password, 5).protocol == "5"
        cert, key = pki.client("kiosk-0001")
        with_cert = ClientSettings.from_config(
            MqttSection(url=f"mqtts://127.0.0.1:{tls}", ca=str(pki.ca), cert=str(cert), key=str(key)), "kiosk-0001")
        assert probe(with_cert, 5).protocol == "5"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
