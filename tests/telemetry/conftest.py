"""Fixtures: a real Mosquitto per test (password + mTLS listeners, per-kiosk ACL), a fleet-side
probe client, the acknowledging ingest, and kiosk configs pointing at the broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.ingest import Ingest
from kiosk.config import Config, build
from kiosk.telemetry.client import ClientSettings, MqttClient
from tests.telemetry.broker import Mosquitto, Pki

PASSWORDS = {"fleet": "fleet-secret", "kiosk-0001": "k1-secret", "kiosk-0002": "k2-secret"}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def wrong_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("wrong-pki"), name="some-other-ca")


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker", users=PASSWORDS, pki=pki) as running:
        yield running


def kiosk_config(url: str, kiosk_id: str = "kiosk-0001", **mqtt: Any) -> Config:
    """A kiosk Config for the test broker (never reads /etc/kiosk or $KIOSK_CONFIG)."""
    section: dict[str, Any] = {"enabled": True, "url": url, "health_interval_s": 60}
    if "password" not in mqtt and "cert" not in mqtt:
        section["password"] = PASSWORDS.get(kiosk_id, "")
    section.update(mqtt)
    return build(Config, {"kiosk": {"id": kiosk_id}, "mqtt": section}, "")


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    correlation: bytes | None
    user_properties: list[tuple[str, str]]


class FleetProbe:
    """A raw paho client (MQTT 5) as some user; records every message it receives."""

    def __init__(self, port: int, username: str = "fleet", password: str | None = None,
                 client_id: str = "probe", protocol: paho.MQTTProtocolVersion = paho.MQTTv5) -> None:
        self.messages: list[Received] = []
        self.cond = threading.Condition()
        self.suback: list[Any] = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        self.client.username_pw_set(username, password if password is not None else PASSWORDS[username])
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._note_suback(rcs)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _note_suback(self, reasons: Any) -> None:
        with self.cond:
            self.suback.append(reasons)
            self.cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        with self.cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain),
                                          getattr(props, "CorrelationData", None) if props else None,
                                          list(getattr(props, "UserProperty", []) or []) if props else []))
            self.cond.notify_all()

    def subscribe(self, topic: str, qos: int = 1) -> Any:
        with self.cond:
            before = len(self.suback)
        self.client.subscribe(topic, qos)
        assert self.wait(lambda: len(self.suback) > before, 5), "no SUBACK"
        return self.suback[-1]

    def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.1))
            return True

    def on(self, topic: str) -> list[Received]:
        with self.cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, topic: str, predicate: Callable[[Received], bool] = lambda m: True,
                 timeout: float = 10.0) -> Received:
        found: list[Received] = []

        def check() -> bool:
            found[:] = [m for m in self.messages if m.topic == topic and predicate(m)]
            return bool(found)

        assert self.wait(check, timeout), f"nothing on {topic} within {timeout}s; got {self.topics()}"
        return found[-1]

    def topics(self) -> list[str]:
        with self.cond:
            return [m.topic for m in self.messages]

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False, response_topic: str | None = None,
                correlation: bytes | None = None, expiry_s: int | None = None) -> None:
        props = None
        if response_topic or correlation or expiry_s:
            props = Properties(PacketTypes.PUBLISH)
            if response_topic:
                props.ResponseTopic = response_topic
            if correlation:
                props.CorrelationData = correlation
            if expiry_s:
                props.MessageExpiryInterval = expiry_s
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=props)
        info.wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def fleet(broker: Mosquitto) -> Iterator[FleetProbe]:
    probe = FleetProbe(broker.port)
    probe.subscribe("kiosk/v1/+/up/#")
    yield probe
    probe.close()


@pytest.fixture
def ingest(broker: Mosquitto, tmp_path: Path) -> Iterator[Ingest]:
    running = Ingest(broker.url, tmp_path / "fleet.db", username="fleet", password=PASSWORDS["fleet"]).start()
    assert running.wait_ready(10), running.last_error
    yield running
    running.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def retained(port: int, topic: str, wait_s: float = 0.5) -> bytes | None:
    """What a newcomer subscribing to ``topic`` gets as a retained message (None: nothing)."""
    probe = FleetProbe(port, client_id=f"retained-{time.monotonic_ns()}")
    try:
        probe.subscribe(topic)
        probe.wait(lambda: bool(probe.on(topic)), wait_s)
        found = [m for m in probe.on(topic) if m.retain]
        return found[-1].payload if found else None
    finally:
        probe.close()


@pytest.fixture
def started() -> Iterator[list[MqttClient]]:
    """Clients a test starts with ``start(started, settings)``; all stopped at the end."""
    clients: list[MqttClient] = []
    yield clients
    for client in clients:
        client.stop(timeout=1)


def start(clients: list[MqttClient], s: ClientSettings, **kw: object) -> MqttClient:
    client = MqttClient(s, **kw)  # type: ignore[arg-type]
    clients.append(client)
    client.start()
    return client
