"""The paho wrapper against a real Mosquitto: reason codes, ACL, TLS, sessions, fallback."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from kiosk.config import MqttSection
from kiosk.errors import ConfigError
from kiosk.telemetry.client import (
    MQTT5,
    MQTT311,
    BrokerAddress,
    BrokerError,
    ClientSettings,
    Connected,
    Inbound,
    MqttClient,
    PublishDenied,
    Will,
    probe,
)
from tests.telemetry.broker import Mosquitto, Pki
from tests.telemetry.conftest import PASSWORDS, FleetProbe, start, wait_until


def settings(url: str, kiosk_id: str = "kiosk-0001", **kw: object) -> ClientSettings:
    section = MqttSection(url=url, password=kw.pop("password", PASSWORDS.get(kiosk_id, "")),  # type: ignore[arg-type]
                          ca=str(kw.pop("ca", "")), cert=str(kw.pop("cert", "")), key=str(kw.pop("key", "")))
    return ClientSettings.from_config(section, kiosk_id, reconnect_min_s=0.1, reconnect_max_s=0.5,
                                      connect_timeout_s=2.0, **kw)  # type: ignore[arg-type]


# --- addresses and settings (no broker) -----------------------------------------------------

def test_url_forms() -> None:
    assert BrokerAddress.parse("mqtt://host") == BrokerAddress("host", 1883, False)
    assert BrokerAddress.parse("mqtts://host") == BrokerAddress("host", 8883, True)
    assert BrokerAddress.parse("tcp://10.0.0.2:1999?protocol=3.1.1") == BrokerAddress("10.0.0.2", 1999, False, MQTT311)
    assert BrokerAddress.parse("ssl://h:1?protocol=5").protocol == MQTT5


@pytest.mark.parametrize("url", ["http://host", "mqtt://", "mqtt://host:99999", "mqtt://h?protocol=4", "host:1883"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="mqtt.url"):
        BrokerAddress.parse(url)


def test_credentials_only_with_a_password_and_tls_when_a_ca_is_set() -> None:
    plain = ClientSettings.from_config(MqttSection(url="mqtt://h"), "kiosk-9")
    assert plain.username is None and plain.password is None and not plain.address.tls
    with_pw = ClientSettings.from_config(MqttSection(url="mqtt://h", password="pw"), "kiosk-9")
    assert with_pw.username == "kiosk-9" and "pw" not in repr(with_pw)
    tls = ClientSettings.from_config(MqttSection(url="mqtt://h:8883", ca="/x/ca.crt"), "kiosk-9")
    assert tls.address.tls and tls.address.port == 8883


def test_missing_tls_files_fail_early_and_clearly(tmp_path: Path) -> None:
    s = ClientSettings.from_config(MqttSection(url="mqtts://h", ca=str(tmp_path / "nope.crt")), "kiosk-9")
    with pytest.raises(ConfigError, match="mqtt.ca"):
        MqttClient(s)
    with pytest.raises(ConfigError, match="mqtt.cert and mqtt.key"):
        ClientSettings.from_config(MqttSection(url="mqtts://h", cert="/a.crt"), "kiosk-9")


# --- against the broker ------------------------------------------------------------------------

def test_publish_is_acked_with_a_verified_reason_code(broker: Mosquitto, fleet: FleetProbe,
                                                      started: list[MqttClient]) -> None:
    client = start(started, settings(broker.url))
    assert client.wait_connected(5), client.last_error
    outcome = client.publish("kiosk/v1/kiosk-0001/up/health", b"{}", qos=1).result(5)
    assert outcome.status == "acked" and outcome.verified
    fleet.wait_for("kiosk/v1/kiosk-0001/up/health")
    assert client.publish("kiosk/v1/kiosk-0001/up/health", b"{}", qos=0).result(5).status == "sent"


def test_publishing_as_another_kiosk_is_denied_and_detected(broker: Mosquitto, fleet: FleetProbe,
                                                            started: list[MqttClient]) -> None:
    client = start(started, settings(broker.url))
    assert client.wait_connected(5)
    ticket = client.publish("kiosk/v1/kiosk-0002/up/sales", b'{"msg_id":"forged"}', qos=1)
    outcome = ticket.wait(5)
    assert outcome is not None and outcome.status == "denied" and outcome.verified
    assert "authori" in outcome.reason.lower()
    with pytest.raises(PublishDenied):
        ticket.result(0)
    # writing into its own down/ (forging its own commands) is denied too
    assert client.publish("kiosk/v1/kiosk-0001/down/cmd/unlock", b"{}").wait(5).status == "denied"  # type: ignore[union-attr]
    time.sleep(0.3)
    assert "kiosk/v1/kiosk-0002/up/sales" not in fleet.topics()


def test_with_mqtt_311_a_denied_publish_cannot_be_detected_and_says_so(broker: Mosquitto, fleet: FleetProbe,
                                                                       started: list[MqttClient]) -> None:
    connections: list[Connected] = []
    client = start(started, settings(broker.url + "?protocol=3.1.1"), on_connected=connections.append)
    assert client.wait_connected(5)
    assert connections[0].protocol == MQTT311 and not connections[0].denials_detectable
    outcome = client.publish("kiosk/v1/kiosk-0002/up/sales", b'{"msg_id":"forged"}', qos=1).wait(5)
    assert outcome is not None and outcome.status == "acked" and not outcome.verified  # honest: unverified
    time.sleep(0.3)
    assert "kiosk/v1/kiosk-0002/up/sales" not in fleet.topics()  # ... and it was dropped


def test_a_kiosk_cannot_read_another_kiosks_commands(broker: Mosquitto, fleet: FleetProbe,
                                                     started: list[MqttClient]) -> None:
    inbox: list[Inbound] = []
    client = start(started, settings(broker.url),
                   subscriptions=[("kiosk/v1/kiosk-0002/down/#", 1), ("kiosk/v1/kiosk-0001/down/#", 1)],
                   on_message=inbox.append)
    assert client.wait_connected(5)
    fleet.publish("kiosk/v1/kiosk-0002/down/cmd/unlock", b'{"by":"x"}')
    fleet.publish("kiosk/v1/kiosk-0001/down/cmd/lock", b'{"by":"x"}')
    assert wait_until(lambda: any(m.topic.endswith("kiosk-0001/down/cmd/lock") for m in inbox), 5)
    time.sleep(0.3)
    assert [m.topic for m in inbox] == ["kiosk/v1/kiosk-0001/down/cmd/lock"]


def test_wrong_password_is_a_clear_error(broker: Mosquitto) -> None:
    with pytest.raises(BrokerError, match="refused the connection as 'kiosk-0001'.*password"):
        probe(settings(broker.url, password="wrong"), timeout=2)


def test_broker_not_running_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BrokerError, match="refused the TCP connection"):
        probe(settings(f"mqtt://127.0.0.1:{port}"), timeout=1)


def test_tls_with_client_certificates_works(broker: Mosquitto, pki: Pki, fleet: FleetProbe,
                                            started: list[MqttClient]) -> None:
    cert, key = pki.client("kiosk-0001")
    s = settings(broker.tls_url, password="", ca=pki.ca, cert=cert, key=key)
    assert s.username is None  # the identity is the certificate CN
    client = start(started, s)
    assert client.wait_connected(5), client.last_error
    assert client.publish("kiosk/v1/kiosk-0001/up/health", b"{}").result(5).verified
    fleet.wait_for("kiosk/v1/kiosk-0001/up/health")
    # the CN is the ACL identity: this certificate cannot speak for kiosk-0002
    assert client.publish("kiosk/v1/kiosk-0002/up/health", b"{}").wait(5).status == "denied"  # type: ignore[union-attr]


def test_wrong_ca_is_refused_with_a_clear_error(broker: Mosquitto, pki: Pki, wrong_pki: Pki) -> None:
    cert, key = pki.client("kiosk-0001")
    s = settings(broker.tls_url, password="", ca=wrong_pki.ca, cert=cert, key=key)
    with pytest.raises(BrokerError, match=r"TLS: the certificate of broker 127\.0\.0\.1:\d+ is not trusted "
                                          r"\(.*\); check mqtt.ca"):
        probe(s, timeout=2)


def test_tls_without_a_client_certificate_is_refused(broker: Mosquitto, pki: Pki) -> None:
    s = settings(broker.tls_url, password="", ca=pki.ca)
    with pytest.raises(BrokerError, match="certificate"):
        probe(s, timeout=3)


def test_commands_sent_while_the_kiosk_is_away_arrive_when_it_comes_back(broker: Mosquitto, fleet: FleetProbe,
                                                                        started: list[MqttClient]) -> None:
    inbox: list[Inbound] = []
    first = start(started, settings(broker.url), subscriptions=[("kiosk/v1/kiosk-0001/down/#", 1)])
    assert first.wait_connected(5)
    first.stop(timeout=2)  # a clean disconnect keeps the session (clean_start=False + expiry)
    fleet.publish("kiosk/v1/kiosk-0001/down/cmd/lock", b'{"by":"ops"}', expiry_s=600)
    connections: list[Connected] = []
    second = start(started, settings(broker.url), subscriptions=[("kiosk/v1/kiosk-0001/down/#", 1)],
                   on_message=inbox.append, on_connected=connections.append)
    assert second.wait_connected(5)
    assert connections[0].session_present
    assert wait_until(lambda: [m.topic for m in inbox] == ["kiosk/v1/kiosk-0001/down/cmd/lock"], 5)


def test_reconnects_after_the_broker_restarts_and_the_will_fires_on_a_crash(broker: Mosquitto, fleet: FleetProbe,
                                                                           started: list[MqttClient]) -> None:
    connections: list[Connected] = []
    will = Will("kiosk/v1/kiosk-0001/up/status", b"offline", user_properties=(("bdSeq", "7"),))
    client = start(started, settings(broker.url), will=lambda: will, on_connected=connections.append)
    assert client.wait_connected(5)
    broker.restart()
    assert wait_until(lambda: len(connections) == 2, 10), client.last_error
    assert connections[1].generation == 2
    fleet.close()  # the probe lost its connection with the restart; use a new one
    watcher = FleetProbe(broker.port, client_id="watcher")
    watcher.subscribe("kiosk/v1/+/up/status")
    with client._state_lock:  # simulate a crash: drop the socket without DISCONNECT
        session = client._session
    assert session is not None
    session.paho.socket().close()  # type: ignore[union-attr]
    got = watcher.wait_for("kiosk/v1/kiosk-0001/up/status", lambda m: m.payload == b"offline", 10)
    assert ("bdSeq", "7") in got.user_properties
    watcher.close()


def test_falls_back_to_mqtt_311_when_the_broker_refuses_mqtt_5(started: list[MqttClient]) -> None:
    """A fake 3.1.1-only broker: CONNACK 'unacceptable protocol version' for v5, accepted for v4."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    levels: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            data = conn.recv(1024)
            level = data[8] if len(data) > 8 else 0
            levels.append(level)
            conn.sendall(bytes([0x20, 0x02, 0x00, 0x01 if level == 5 else 0x00]))
            if level == 4:
                threading.Timer(3, conn.close).start()
            else:
                time.sleep(0.1)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    connections: list[Connected] = []
    client = start(started, settings(f"mqtt://127.0.0.1:{server.getsockname()[1]}"),
                   on_connected=connections.append)
    try:
        assert client.wait_connected(5), client.last_error
        assert levels[:2] == [5, 4]
        assert connections[0].protocol == MQTT311 and client.protocol == MQTT311
    finally:
        server.close()
