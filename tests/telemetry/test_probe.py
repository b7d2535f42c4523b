"""``kiosk doctor``'s broker probe against a real Mosquitto: it never takes the kiosk's session
(queued commands) or its connection; and broker URLs are quoted without credentials."""

from __future__ import annotations

import time

import pytest

from kiosk.config import MqttSection
from kiosk.doctor import OK, check_broker
from kiosk.errors import ConfigError
from kiosk.telemetry.client import (
    BrokerAddress,
    ClientSettings,
    Connected,
    Inbound,
    MqttClient,
    Will,
    probe,
    probe_settings,
    redact_url,
)
from tests.telemetry.broker import Mosquitto, Pki
from tests.telemetry.conftest import PASSWORDS, FleetProbe, kiosk_config, start, wait_until

KIOSK = "kiosk-0001"
DOWN = f"kiosk/v1/{KIOSK}/down/#"
STATUS = f"kiosk/v1/{KIOSK}/up/status"


def settings(url: str, **kw: object) -> ClientSettings:
    section = MqttSection(url=url, password=str(kw.pop("password", PASSWORDS[KIOSK])),
                          ca=str(kw.pop("ca", "")), cert=str(kw.pop("cert", "")), key=str(kw.pop("key", "")))
    return ClientSettings.from_config(section, KIOSK, reconnect_min_s=0.1, reconnect_max_s=0.5,
                                      connect_timeout_s=2.0)


# --- settings (no broker) -------------------------------------------------------------------

def test_probe_settings_keep_the_identity_but_not_the_session() -> None:
    kiosk = settings("mqtts://broker:8883", ca="/ca.crt", cert="/k.crt", key="/k.key", password="pw")
    assert not kiosk.clean_start and kiosk.session_expiry_s > 0
    probing = probe_settings(kiosk)
    assert probing.client_id == f"{KIOSK}-doctor" != kiosk.client_id
    assert probing.clean_start and probing.session_expiry_s == 0
    assert (probing.username, probing.password) == (KIOSK, "pw")  # the ACL keys on %u
    assert (probing.address, probing.ca, probing.cert, probing.key) == (kiosk.address, kiosk.ca, kiosk.cert, kiosk.key)
    assert probe_settings(probing) == probing  # applying it twice changes nothing


@pytest.mark.parametrize("url, shown", [
    ("mqtt://kiosk-001:S3cret@broker:1883x", "mqtt://broker:1883x"),
    ("mqtt://kiosk-001@broker:1883", "mqtt://broker:1883"),
    ("mqtts://u:p@ss/w#rd?@broker", "mqtts://broker"),  # a password with / # ? @ in it
    ("kiosk:S3cret@broker:1883", "broker:1883"),
    ("mqtt://broker:1883?protocol=5", "mqtt://broker:1883?protocol=5"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("url", [
    "mqtt://kiosk-001:S3cret@broker:1883x",  # bad port
    "http://kiosk-001:S3cret@broker",  # bad scheme
    "mqtt://kiosk-001:S3cret@",  # no host
    "mqtt://kiosk-001:S3cret@[::1",  # not even a URL
    "mqtt://kiosk-001:S3cret@broker:99999",
])
def test_config_errors_never_quote_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="mqtt.url") as info:
        BrokerAddress.parse(url)
    assert "S3cret" not in str(info.value) and "kiosk-001" not in str(info.value)


# --- against the broker ----------------------------------------------------------------------

@pytest.mark.parametrize("query", ["", "?protocol=3.1.1"])
def test_a_command_queued_for_a_stopped_kiosk_survives_a_doctor_probe(
        broker: Mosquitto, fleet: FleetProbe, started: list[MqttClient], query: str) -> None:
    first = start(started, settings(broker.url + query), subscriptions=[(DOWN, 1)])
    assert first.wait_connected(5), first.last_error
    first.stop(timeout=2)  # the kiosk is down; its session (and subscription) stays on the broker
    fleet.publish(f"kiosk/v1/{KIOSK}/down/cmd/lock", b'{"by":"ops"}', expiry_s=600)
    time.sleep(0.2)

    finding = check_broker(kiosk_config(broker.url + query))  # `kiosk doctor` while the kiosk is down
    assert finding.result == OK, finding
    assert f"client id {KIOSK}-doctor" in finding.detail
    assert probe(settings(broker.url + query), timeout=5).protocol  # and once more, directly

    inbox: list[Inbound] = []
    connections: list[Connected] = []
    second = start(started, settings(broker.url + query), subscriptions=[(DOWN, 1)],
                   on_message=inbox.append, on_connected=connections.append)
    assert second.wait_connected(5), second.last_error
    assert connections[0].session_present  # the probe did not take or wipe the kiosk's session
    assert wait_until(lambda: [m.topic for m in inbox] == [f"kiosk/v1/{KIOSK}/down/cmd/lock"], 5), inbox


def test_a_probe_does_not_disconnect_a_running_kiosk(broker: Mosquitto, fleet: FleetProbe,
                                                     started: list[MqttClient]) -> None:
    disconnects: list[str] = []
    inbox: list[Inbound] = []
    kiosk = start(started, settings(broker.url), subscriptions=[(DOWN, 1)], on_message=inbox.append,
                  will=lambda: Will(STATUS, b"offline"), on_disconnected=disconnects.append)
    assert kiosk.wait_connected(5), kiosk.last_error
    kiosk.publish(STATUS, b"online", retain=True).result(5)
    fleet.wait_for(STATUS, lambda m: m.payload == b"online")

    assert check_broker(kiosk_config(broker.url)).result == OK
    probe(settings(broker.url), timeout=5)
    time.sleep(1.0)  # a takeover would show within this: DISCONNECT 0x8E, Will, reconnect

    assert [m.payload for m in fleet.on(STATUS)] == [b"online"]  # no Will "offline"
    assert disconnects == [] and kiosk.connected and kiosk.generation == 1
    fleet.publish(f"kiosk/v1/{KIOSK}/down/cmd/ping", b"{}")  # and it still gets its commands
    assert wait_until(lambda: any(m.topic.endswith("/cmd/ping") for m in inbox), 5)


def test_a_probe_with_a_client_certificate_authenticates_as_the_kiosk(broker: Mosquitto, pki: Pki,
                                                                      fleet: FleetProbe,
                                                                      started: list[MqttClient]) -> None:
    cert, key = pki.client(KIOSK)
    s = settings(broker.tls_url, password="", ca=pki.ca, cert=cert, key=key)
    disconnects: list[str] = []
    kiosk = start(started, s, will=lambda: Will(STATUS, b"offline"), on_disconnected=disconnects.append)
    assert kiosk.wait_connected(5), kiosk.last_error
    assert probe(s, timeout=5).protocol == "5"
    time.sleep(0.5)
    assert disconnects == [] and kiosk.connected
    assert not fleet.on(STATUS)


def test_the_doctor_finding_quotes_the_url_without_credentials(broker: Mosquitto) -> None:
    url = broker.url.replace("mqtt://", f"mqtt://{KIOSK}:S3cret@")
    finding = check_broker(kiosk_config(url))
    assert finding.result == OK, finding
    assert "S3cret" not in finding.detail and broker.url in finding.detail
    bad = check_broker(kiosk_config(url + "x"))
    assert "S3cret" not in bad.detail + bad.fix
